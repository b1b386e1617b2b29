/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * err - the error value.
 *
 * Every fallible function takes a `struct err *` as its last parameter and
 * returns -1 (or NULL) on failure after filling it.  The first, most specific
 * message wins: err_set() on an already-set error does nothing, so a low
 * layer's precise reason is never overwritten by a vaguer one higher up.
 * Callers add context with err_prefix().  Only main() prints an error and
 * turns its code into the process exit status.
 *
 * An error may carry one hint: what the user can do about it, set with
 * err_hint() right after the err_set() it belongs to.  The hint follows
 * the first-error-wins rule: it is kept only for the recorded error, so a
 * hint given after an err_set() that was ignored (another error came
 * first), or after another hint, is dropped.  main() prints it as a
 * second line "msmtp: hint: ..." (under -bs, into the log).
 */
#ifndef MSMTP_ERR_H
#define MSMTP_ERR_H

#include <stddef.h>

/* sysexits(3) values, spelled out so no module depends on <sysexits.h>. */
enum {
	EX_OK_ = 0,
	ERR_USAGE = 64,
	ERR_DATAERR = 65,
	ERR_NOINPUT = 66,
	ERR_NOHOST = 68,
	ERR_UNAVAILABLE = 69,
	ERR_SOFTWARE = 70,
	ERR_OSERR = 71,
	ERR_CANTCREAT = 73,
	ERR_IOERR = 74,
	ERR_TEMPFAIL = 75,
	ERR_PROTOCOL = 76,
	ERR_NOPERM = 77,
	ERR_CONFIG = 78
};

#define ERR_MSG_MAX 1024
#define ERR_HINT_MAX 512

struct err {
	int code;               /* sysexits code; 0 = no error */
	char msg[ERR_MSG_MAX];  /* one line, no trailing newline */
	char hint[ERR_HINT_MAX]; /* "" or one line: what to do about it */
	int hint_closed;        /* an err_set() was ignored: no hint now */
};

void err_init(struct err *e);
/* Record an error unless one is already recorded.  Always returns -1. */
int err_set(struct err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* After a failed call that leaves errno (a buf_* append): ENOMEM records
 * "out of memory" with ERR_OSERR, anything else (E2BIG: a ceiling was
 * reached) the given error.  Always returns -1. */
int err_set_buf(struct err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Put "context: " in front of the recorded message (no-op if none). */
void err_prefix(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Replace the exit code of a recorded error (keeps the message).  An
 * ERR_OSERR ("out of memory") keeps its code: running out of memory
 * means the same in every context, and a caller that reclassifies a
 * parse failure as a usage or configuration error must not turn it into
 * a wrong diagnosis. */
void err_recode(struct err *e, int code);
int err_isset(const struct err *e);
/* Attach a hint to the recorded error (see above: ignored when there is
 * no error, when the last err_set() was ignored, or when it has one). */
void err_hint(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The hint of `src` (if any) for the error just copied into `e` from it,
 * under err_hint()'s rules. */
void err_hint_copy(struct err *e, const struct err *src);

/* Edit distance for "did you mean" hints: the optimal string alignment
 * distance (insertions, deletions, substitutions and swaps of adjacent
 * letters count 1), ignoring ASCII case.  Words longer than
 * ERR_NEAR_WORD_MAX give SIZE_MAX. */
#define ERR_NEAR_WORD_MAX 64
size_t err_edit_distance(const char *a, const char *b);

/* The closest of several names to a word the user typed, when it is
 * close enough to be what was meant: distance at most 1 for words of up
 * to 4 letters, 2 up to 8, 3 beyond.  Feed every candidate to
 * err_near_try(); the first of equally close ones wins. */
struct err_near {
	const char *word;
	const char *best;       /* NULL: none close enough (yet) */
	size_t dist;
};
void err_near_init(struct err_near *n, const char *word);
void err_near_try(struct err_near *n, const char *candidate);
const char *err_near_best(const struct err_near *n);
/* "EX_TEMPFAIL" etc., for log lines. */
const char *err_code_name(int code);

#endif
