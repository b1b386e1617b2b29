/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * deliver - one message to an outcome, and the queue's side of it: a send
 * with failover to other accounts, where an account's queue lives,
 * storing a message together with what is already known of its
 * recipients, recording an attempt's outcome in a queue entry, and the
 * delivery record for logfile/syslog.  Policy comes from outcome.h (what a
 * failure means) and gate.h (where a connection may go); this module only
 * applies it.  It prints nothing but warnings.
 */
#ifndef MSMTP_DELIVER_H
#define MSMTP_DELIVER_H

#include <stddef.h>
#include "conf.h"
#include "err.h"
#include "msg.h"
#include "outcome.h"
#include "queue.h"
#include "submit.h"

struct deliver_job {
	const struct conf *conf;        /* for failover accounts (may be NULL) */
	const struct account *acct;     /* prepared (gate_prepare_account) */
	const char *from;
	char *const *rcpts;
	size_t nrcpts;
	struct msg *msg;
	int force_partial;              /* per-recipient outcome */
};

/* One delivery: the account, then each failover account in turn while
 * outcome_try_elsewhere() allows.  *o is always settled and describes
 * the last attempt; *used receives the account of that attempt (a
 * borrowed pointer, or a copy the caller frees when *used_owned). */
int deliver_send(const struct deliver_job *job, struct outcome *o,
		 struct submit_info *info, const struct account **used,
		 int *used_owned);

/* The queue directory an account uses (malloc'd), and the system spool. */
char *deliver_queue_dir(const struct account *a);
const char *deliver_spool(void);
/* Open a queue directory, checking the spool's mode when it is inside it. */
int deliver_open_queue(const char *dir, struct queue **q, struct err *e);

struct deliver_enqueue_req {
	const struct account *acct;
	const char *config;             /* -C file (absolute), NULL: default */
	const char *from;
	char *const *rcpts;
	size_t nrcpts;
	struct msg *msg;
	const struct outcome *after;    /* an attempt already made, or NULL */
};
/* Store the message; recipients the attempt settled keep their state
 * (never sent twice).  The id goes into idbuf. */
int deliver_enqueue(const struct deliver_enqueue_req *rq, char *idbuf,
		    size_t idlen, struct err *e);

/* Record one attempt's outcome in an entry: map[i] is the entry's index
 * of the outcome's recipient i.  A session failure changes no recipient;
 * the next attempt backs off (doubling from `backoff`, capped at a day). */
void deliver_record(struct queue_entry *ent, const size_t *map,
		    const struct outcome *o, int backoff);

/* After `queue always`: apply the outcome to the entry `id` the message
 * was stored as; it is removed when delivered or refused for good.
 * *kept = 1 when it stays queued. */
int deliver_update_entry(const struct account *a, const char *id,
			 const struct outcome *o, int *kept, struct err *e);

/* The delivery record for logfile/syslog (msmtp's field names); nothing
 * when the account logs nowhere.  queued_id: the message was queued.
 * With logfile_format json the logfile gets one JSON object per record
 * (jsonl.h; fields in msmtp(1), LOGGING) and syslog the text line. */
void deliver_log(const struct account *a, const char *from,
		 char *const *rcpts, size_t nrcpts, const struct outcome *o,
		 const char *queued_id);

#endif
