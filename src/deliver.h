/*
 * deliver - everything between a ready message and a final outcome:
 * account preparation (TLS defaults, credentials), one send with
 * failover to other accounts, putting a message in the queue, and queue
 * runs (flush, due-only run, single entry).  main() decides what to do;
 * this module does it.  It uses conf, secret, submit, msg and queue and
 * prints only the queue notes and listings.
 */
#ifndef MSMTP_DELIVER_H
#define MSMTP_DELIVER_H

#include <stddef.h>
#include "conf.h"
#include "err.h"
#include "msg.h"
#include "queue.h"
#include "secret.h"
#include "submit.h"

/* Loopback host or socket: nothing crosses a network. */
int deliver_is_local(const struct account *a);
/* Secure TLS default, then conf_account_finish. */
int deliver_prepare_account(struct account *a, struct err *e);
/* Fill the TLS parameters of a submission. */
void deliver_tls_params(const struct account *a, struct submit_params *sp);
/* Fill TLS and AUTH parameters; loads the password into *pw. */
int deliver_session_params(const struct account *a, struct submit_params *sp,
			   struct secret **pw, struct err *e);

/* The queue directory an account uses (malloc'd). */
char *deliver_queue_dir(const struct account *a);

struct deliver_job {
	const struct conf *conf;        /* for failover accounts */
	const struct account *acct;
	const char *from;
	char *const *rcpts;
	size_t nrcpts;
	struct msg *msg;
	int force_partial;              /* queue runs: per-recipient outcome */
};

/* One delivery: the account, then each failover account in turn while the
 * failure is temporary.  res describes the last attempt; *used receives
 * the account that was used last (a borrowed pointer, or a copy the
 * caller frees when *used_owned). */
int deliver_send(const struct deliver_job *job, struct submit_result *res,
		 struct account **used, int *used_owned, struct err *e);

/* deliver_send, but when the account has due queued messages they go out
 * over the same connection after this one (queue_opportunistic). */
int deliver_send_and_flush(const struct deliver_job *job,
			   struct submit_result *res, struct account **used,
			   int *used_owned, struct err *e);

/* Store the message; the id goes into idbuf. */
int deliver_enqueue(const struct account *a, const char *from,
		    char *const *rcpts, size_t nrcpts, struct msg *m,
		    const char *last_error, int maybe_dup, char *idbuf,
		    size_t idlen, struct err *e);

struct deliver_filter {
	int due_only;                   /* --queue-run: next attempt due */
	const char *id;                 /* one entry */
	const char *rcpt;               /* -qR substring */
	const char *sender;             /* -qS substring */
	const char *account;            /* only this account's entries */
};

struct deliver_stats {
	int tried, delivered, deferred, failed, skipped;
};

/* Run the queues of every account in conf (and the default queue). */
int deliver_flush(const struct conf *c, const struct deliver_filter *f,
		  struct deliver_stats *st, struct err *e);
/* mailq: list every queue on stdout. */
int deliver_list(const struct conf *c, struct err *e);
/* --queue-remove / --queue-retry on the entry `id`. */
int deliver_queue_edit(const struct conf *c, const char *id, int remove,
		       struct err *e);

#endif
