/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * qrun - queue runs: -q/--flush, --queue-run, mailq (-bp),
 * --queue-remove/--queue-retry, the opportunistic flush after a send,
 * and failure reports (queue_notify).
 *
 * Every entry is sent with the configuration it was queued under: the -C
 * file its envelope records, or the default files (system file plus the
 * user's own file) - read by the entry's owner.  An entry is sent only
 * with an account of that configuration; one whose account no longer
 * exists waits until the defaults' queue_lifetime and then fails.
 *
 * Outcomes (outcome.h) decide each entry's fate: a session failure
 * defers every entry of the account with backoff until queue_lifetime; a
 * message- or recipient-scope permanent refusal fails the entry or the
 * recipient (failed/, and a report when queue_notify is on); recipients
 * already delivered are never sent again.
 *
 * Out of memory says nothing about an entry: the one concerned stays
 * exactly as it was, the run goes on with the others, and its result is
 * then ERR_OSERR (exit 71) instead of success.
 *
 * System-wide queue (running as root): root's process serves root's own
 * queues; each user's directory of the spool is served by a child that has
 * become that user (initgroups, setgid, setuid), with that user's HOME and
 * configuration only - never root's.  Root's process opens nothing inside
 * users' directories: listings are printed and counts reported by those
 * children.
 */
#ifndef MSMTP_QRUN_H
#define MSMTP_QRUN_H

#include "conf.h"
#include "deliver.h"
#include "err.h"
#include "outcome.h"
#include "submit.h"

struct qrun_filter {
	int due_only;                   /* --queue-run: next attempt due */
	const char *id;                 /* one entry */
	const char *rcpt;               /* -qR substring */
	const char *sender;             /* -qS substring */
	const char *account;            /* only this account's entries */
};

struct qrun_stats {
	int tried, delivered, deferred, failed, skipped, listed;
};

/* The configuration the process itself loaded (NULL conf: none, as in
 * root's children) and the -C file it came from (NULL: default files). */
struct qrun_ctx {
	const struct conf *conf;
	const char *conf_file;
};

/* Run the queues of every account of cx->conf (and the default queue);
 * as root also every user's spool directory, as that user. */
int qrun_flush(const struct qrun_ctx *cx, const struct qrun_filter *f,
	       struct qrun_stats *st, struct err *e);
/* mailq: list every queue (and its failed/ entries) on stdout; with
 * json, one JSON object per entry and line (jsonl.h) and nothing for an
 * empty queue: id, state ("queued" or "failed"), queue (the directory),
 * account, sender, recipients ([{address, state, reply}], state pending,
 * delivered or failed), size, queued and next_attempt (RFC 3339 UTC;
 * next_attempt null when failed), attempts, last_error, maybe_duplicate.
 * A field unknown for the entry is null. */
int qrun_list(const struct qrun_ctx *cx, int json, struct err *e);
/* --queue-remove / --queue-retry on the entry `id`. */
int qrun_edit(const struct qrun_ctx *cx, const char *id, int remove,
	      struct err *e);

/* deliver_send, but when the account has due queued messages they go out
 * over the same connection after this one (queue_opportunistic). */
int qrun_send_and_flush(const struct qrun_ctx *cx,
			const struct deliver_job *job, struct outcome *o,
			struct submit_info *info,
			const struct account **used, int *used_owned);

#endif
