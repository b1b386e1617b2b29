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

struct err {
	int code;               /* sysexits code; 0 = no error */
	char msg[ERR_MSG_MAX];  /* one line, no trailing newline */
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
/* "EX_TEMPFAIL" etc., for log lines. */
const char *err_code_name(int code);

#endif
