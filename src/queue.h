/*
 * queue - the crash-safe store-and-forward queue.
 *
 * An entry is two files in the queue directory: ID.msg, the message as it
 * goes on the wire (headers already rewritten), written once; and ID.env,
 * the envelope (account, sender, every recipient with its own state, DSN,
 * times, attempts, last error), replaced atomically after every change.
 * Commit order (design rule 7): both files are written and fsync'ed under
 * tmp/, ID.msg is renamed into place, then ID.env, then the directory is
 * fsync'ed; only then is the entry reported queued.  An ID.msg without an
 * ID.env is an interrupted enqueue (or the tail of a removal) and is
 * cleaned up later.  The envelope is versioned text with an END line;
 * an envelope without END is ignored as incomplete.
 *
 * While a flusher works on an entry it holds flock() on ID.msg, so
 * concurrent flushers never send the same message twice.
 *
 * Errors: directory problems (missing parent, wrong owner or mode)
 * ERR_CANTCREAT; write/fsync/rename failures (full disk) ERR_IOERR.
 */
#ifndef MSMTP_QUEUE_H
#define MSMTP_QUEUE_H

#include <stddef.h>
#include <time.h>
#include "err.h"
#include "msg.h"

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
	char *config;           /* -C file at enqueue time; NULL: default files */
};

struct queue;

/* Open (creating it, mode 0700) the queue directory.  It must belong to
 * the effective user and not be writable by group or others. */
int queue_open(const char *dir, struct queue **out, struct err *e);
void queue_close(struct queue *q);
const char *queue_dir(const struct queue *q);

/* A fresh unique id into ent->id. */
void queue_new_id(struct queue_entry *ent);
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

/* Every complete entry, oldest first.  *out is malloc'd. */
int queue_list(struct queue *q, struct queue_entry **out, size_t *n,
	       struct err *e);
int queue_list_failed(struct queue *q, struct queue_entry **out, size_t *n,
		      struct err *e);
/* Load one envelope; 0 if it does not exist (any more). */
int queue_load(struct queue *q, const char *id, struct queue_entry *ent,
	       struct err *e);
void queue_entry_clear(struct queue_entry *ent);
void queue_entries_free(struct queue_entry *v, size_t n);

/* Take the entry's lock: 1 locked (*fd to keep), 0 busy, -1 error. */
int queue_lock(struct queue *q, const char *id, int *fd, struct err *e);
void queue_unlock(int fd);
/* Open the message file for reading (regular file: read in place). */
int queue_open_msg(struct queue *q, const char *id, struct err *e);

/* Remove leftovers of interrupted runs older than `age` seconds: files in
 * tmp/ and message files without an envelope. */
void queue_cleanup(struct queue *q, time_t age);

/* 1 if the entry still has recipients to try. */
int queue_has_pending(const struct queue_entry *ent);

#endif
