/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * queue - the crash-safe store-and-forward queue.
 *
 * An entry is two files in the queue directory: ID.msg, the message as it
 * goes on the wire (headers already rewritten), written once; and ID.env,
 * the envelope (account, sender, every recipient with its own state, DSN,
 * the -C configuration file, times, attempts, last error), replaced
 * atomically after every change.  Commit order (design rule 7): both files
 * are written and fsync'ed under tmp/, ID.msg is renamed into place, then
 * ID.env, then the directory is fsync'ed; only then is the entry reported
 * queued.  An ID.msg without an ID.env is an interrupted enqueue (or the
 * tail of a removal) and is cleaned up later.
 *
 * While a flusher works on an entry it holds flock() on ID.msg, so
 * concurrent flushers never send the same message twice.
 *
 * Untrusted files.  Users edit their own queue, and root's queue run
 * serves users' directories, so everything read back from disk is
 * checked before it is used:
 * - Ids: an id is exactly what queue_new_id makes (queue_id_valid); every
 *   function taking an id refuses any other string (ERR_USAGE) before it
 *   gets near a path, so "../x" never names a file outside the queue.
 * - Envelopes: the first line is "msmtp-queue-envelope 1"; then one
 *   "key value" per line (at most QUEUE_LINE_MAX bytes), values escaped
 *   as %XX where they hold a space, a control byte or '%' (a raw one is
 *   refused), ending with the line END and nothing after it.  Keys: id
 *   (equal to the file name's stem), account (1..QUEUE_ACCOUNT_MAX
 *   printable bytes), from (an envelope address, addr_check_envelope; %00
 *   = the null sender), config (optional; absolute, printable, at most
 *   QUEUE_CONFIG_MAX), dsn-notify (optional; never, or a list of failure,
 *   delay, success), dsn-return (optional; headers or full), queued and
 *   next (0..QUEUE_TIME_MAX), attempts (0..QUEUE_ATTEMPTS_MAX), size
 *   (0..QUEUE_SIZE_MAX), maybe-duplicate (0 or 1), last-error (optional,
 *   printable, at most QUEUE_TEXT_MAX), and one or more "rcpt STATE ADDR
 *   [REPLY]" (pending, delivered or failed; a non-empty envelope address;
 *   the reply like last-error).  Every other key is at most once; unknown
 *   keys, NUL after unescaping, numbers out of range (or with a sign) are
 *   refused.  ID.env must be a regular file (never followed if a link).
 * - What the queue writes always loads back: queue_add, queue_save and
 *   queue_move_failed refuse an entry that breaks these rules
 *   (ERR_DATAERR, nothing written), except that last-error and replies
 *   (server text) are written with control bytes as spaces and cut at
 *   QUEUE_TEXT_MAX.
 *
 * Invalid entries go to failed/.  When queue_list or queue_load meets an
 * envelope that breaks the rules (or an ID.msg the queue may not use,
 * see Links), the entry is moved to failed/ and never sent: first the queue
 * writes failed/ID.env, a stub in its own format ("msmtp-queue-invalid 1",
 * then id, queued = the bad file's mtime, last-error = the reason, END),
 * then renames ID.msg to failed/ID.msg and the bad envelope, byte for
 * byte, to failed/ID.env.invalid.  A crash in between leaves the entry
 * invalid in the queue, so the next run finishes the move.  A file named
 * *.env whose name is not an id at all ("x y.env") is set aside the same
 * way under a fresh id, with its *.msg companion; the old name is in the
 * reason.  Reasons read "invalid envelope: ..." (or "invalid entry: the
 * message file is ...").
 *
 * Links and planted files: the queue reads and sends only files of its
 * own kind - regular files of the effective user with a single link, as
 * it writes them - judged with fstat on the descriptor it then uses
 * (opened with O_NOFOLLOW, O_NONBLOCK against FIFOs, O_NOCTTY), so a
 * name swapped between a check and a use changes nothing: the message
 * sent is the very file that was locked and checked (queue_open_msg).
 * A symbolic link, a FIFO or other special file, another user's file or
 * a hard link as ID.env or ID.msg, an ID.env over 4 MiB, or an ID.msg
 * larger than its envelope's size makes the entry invalid (reasons
 * "invalid envelope: a symbolic link" / "not a regular file" / "owned
 * by another user" / "a hard link" / "larger than 4 MiB", "invalid
 * entry: the message file is ...").  Renames and removals act on the
 * name itself, never on what a link points to; tmp/ and failed/ are
 * opened without following a link and must be the user's and private;
 * files are written only as fresh files under tmp/.
 *
 * Errors: directory problems (missing parent, wrong owner or mode)
 * ERR_CANTCREAT; write/fsync/rename failures (full disk) ERR_IOERR;
 * invalid entries ERR_DATAERR; a string that is not an id ERR_USAGE; out
 * of memory ERR_OSERR (never a reason to find an entry invalid).
 */
#ifndef MSMTP_QUEUE_H
#define MSMTP_QUEUE_H

#include <stddef.h>
#include <time.h>
#include "err.h"
#include "msg.h"

/* YYYYMMDDhhmmss-PID-xxxxxxxx: 14 digits, 1..10 digits, 8 lower-case hex */
#define QUEUE_ID_MAX 34
#define QUEUE_LINE_MAX 16384            /* one envelope line, without LF */
#define QUEUE_TEXT_MAX 2048             /* last-error, a reply */
#define QUEUE_ACCOUNT_MAX 1024
#define QUEUE_CONFIG_MAX 4096
#define QUEUE_TIME_MAX 253402300799LL   /* 9999-12-31T23:59:59Z */
#define QUEUE_ATTEMPTS_MAX 1000000
#define QUEUE_SIZE_MAX 9007199254740992ULL      /* 2^53 */

enum queue_rcpt_state { QUEUE_PENDING, QUEUE_DELIVERED, QUEUE_FAILED };

struct queue_rcpt {
	char *addr;
	enum queue_rcpt_state state;
	char *reply;            /* last server reply for this recipient */
};

struct queue_entry {
	char id[64];
	char *account;
	char *from;
	struct queue_rcpt *rcpts;
	size_t nrcpts;
	char *dsn_notify;       /* NULL: none */
	char *dsn_return;
	time_t queued;          /* first queued */
	time_t next;            /* next attempt is due */
	int attempts;
	char *last_error;       /* NULL before the first failure */
	int maybe_duplicate;    /* lost after a final dot: may be delivered */
	unsigned long long size;        /* message bytes */
	char *config;           /* absolute path of the -C file at enqueue
				 * time (the caller resolves it: a relative
				 * path is refused); NULL: default files */
};

struct queue;

/* Open (creating it, mode 0700) the queue directory.  It must belong to
 * the effective user and not be writable by group or others. */
int queue_open(const char *dir, struct queue **out, struct err *e);
void queue_close(struct queue *q);
const char *queue_dir(const struct queue *q);

/* A fresh unique id into ent->id. */
void queue_new_id(struct queue_entry *ent);
/* 1 if id has the form queue_new_id makes (see QUEUE_ID_MAX). */
int queue_id_valid(const char *id);
/* Store a new entry: the message stream of m and the envelope ent. */
int queue_add(struct queue *q, const struct queue_entry *ent, struct msg *m,
	      struct err *e);
/* Replace the envelope of an existing entry atomically. */
int queue_save(struct queue *q, const struct queue_entry *ent, struct err *e);
/* Delete an entry (envelope first, so a crash leaves only garbage). */
int queue_remove(struct queue *q, const char *id, struct err *e);
/* Move an entry to failed/ with the reason recorded. */
int queue_move_failed(struct queue *q, struct queue_entry *ent,
		      const char *reason, struct err *e);

/* Every valid entry, oldest first.  *out is malloc'd.  Invalid entries
 * met on the way are moved to failed/ (unless a flusher holds them) and
 * left out. */
int queue_list(struct queue *q, struct queue_entry **out, size_t *n,
	       struct err *e);
/* Entries in failed/, oldest first; an entry moved there because its
 * envelope was invalid is returned with only id (the file name stem),
 * last_error ("invalid envelope: ...") and queued (file mtime) set. */
int queue_list_failed(struct queue *q, struct queue_entry **out, size_t *n,
		      struct err *e);
/* Load one envelope; 0 if it does not exist (any more).  The caller holds
 * the entry's lock: an invalid envelope is moved to failed/ at once and
 * -1 returned (ERR_DATAERR, "queue entry ID: invalid envelope: ...;
 * moved to failed/"). */
int queue_load(struct queue *q, const char *id, struct queue_entry *ent,
	       struct err *e);
void queue_entry_clear(struct queue_entry *ent);
void queue_entries_free(struct queue_entry *v, size_t n);

/* Take the entry's lock: 1 locked (*fd to keep), 0 busy or gone, -1
 * error (also when ID.msg is not a file of the queue's kind, see Links). */
int queue_lock(struct queue *q, const char *id, int *fd, struct err *e);
void queue_unlock(int fd);
/* The message of the entry whose lock is `lockfd`, for reading (a new
 * descriptor of that very file, at its start: never reopened by name).
 * When it is not of the queue's kind or is larger than ent->size, the
 * entry is moved to failed/ and -1 returned (ERR_DATAERR, "queue entry
 * ID: invalid entry: the message file is ...; moved to failed/"). */
int queue_open_msg(struct queue *q, const struct queue_entry *ent, int lockfd,
		   struct err *e);

/* Remove leftovers of interrupted runs older than `age` seconds: files in
 * tmp/ and message files (named ID.msg, regular) without an envelope. */
void queue_cleanup(struct queue *q, time_t age);

/* 1 if the entry still has recipients to try. */
int queue_has_pending(const struct queue_entry *ent);

/* The envelope text of ent (what ID.env holds), appended to b: refused
 * (ERR_DATAERR) when ent breaks the rules above; ERR_IOERR when b's
 * ceiling is reached.  (Exposed for tests and the fuzz target.) */
int queue_format_env(const struct queue_entry *ent, struct buf *b,
		     struct err *e);
/* Parse and check the envelope text[0..len) of the entry named want_id;
 * with allow_stub also the stub of an invalid entry in failed/.  On
 * failure (ERR_DATAERR, e says why) ent is cleared.  (Exposed for tests
 * and the fuzz target; queue_load reads files through it.) */
int queue_parse_env(const char *text, size_t len, const char *want_id,
		    int allow_stub, struct queue_entry *ent, struct err *e);

#endif
