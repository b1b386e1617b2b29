/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * outcome - what became of one message: the typed delivery outcome.
 *
 * The send path (submit) produces one outcome per message, once; failover,
 * the queue, the exit code and the log record read it.  Nothing outside
 * this module looks at an exit code to decide what a failure means.  Pure:
 * no I/O.
 *
 * Class: delivered, temporary, permanent, or maybe delivered (the
 * connection was lost after the final dot, or the server answered it with
 * something other than 250).
 *
 * Scope (Postfix's split of failures): the SESSION failed (DNS, connect,
 * TLS, STARTTLS missing or refused, AUTH, proxy, the greeting or EHLO, a
 * 530 or 5.7.0 "authenticate / use TLS first" reply to MAIL or RCPT, a lost
 * connection, a malformed reply) - nothing is wrong with this message; the
 * MESSAGE was refused (another 4xx/5xx to MAIL, DATA or the end of data, a
 * size over the server's limit); or single RECIPIENTS were refused (RCPT,
 * LMTP per-recipient replies).
 *
 * What follows from it:
 *  - a direct send exits with err.code (unchanged sysexits codes: 69 for
 *    an untrusted certificate, 77 for AUTH 535, 68 for an unknown host, 75
 *    for any 4xx or lost connection, ...);
 *  - `queue tempfail` stores temporary and maybe-delivered outcomes only;
 *  - a queue run defers every entry on a session failure, and fails an
 *    entry or a recipient only on a message- or recipient-scope permanent
 *    refusal;
 *  - failover tries the next account after a session failure or a
 *    temporary one, never when a recipient may already have the message.
 */
#ifndef MSMTP_OUTCOME_H
#define MSMTP_OUTCOME_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"

enum outcome_class {
	OUTCOME_DELIVERED,
	OUTCOME_TEMPORARY,
	OUTCOME_PERMANENT,
	OUTCOME_MAYBE_DELIVERED
};

enum outcome_scope {
	OUTCOME_SESSION,
	OUTCOME_MESSAGE,
	OUTCOME_RECIPIENT
};

enum outcome_rcpt_state {
	OUTCOME_RCPT_PENDING,           /* nothing settled: try again later */
	OUTCOME_RCPT_DELIVERED,         /* the server took it for this one */
	OUTCOME_RCPT_TEMPORARY,         /* refused for now */
	OUTCOME_RCPT_PERMANENT,         /* refused for good */
	OUTCOME_RCPT_MAYBE              /* may have it: lost after the dot */
};

#define OUTCOME_TEXT_MAX 512

struct outcome_rcpt {
	enum outcome_rcpt_state state;
	int code;                       /* RCPT reply (0: never answered) */
	int final_code;                 /* LMTP: its reply to the end of data */
	char text[OUTCOME_TEXT_MAX];    /* the deciding reply as one line */
};

struct outcome {
	enum outcome_class cls;
	enum outcome_scope scope;       /* of the failure (unused if delivered) */
	struct err err;                 /* code 0 when delivered */
	int smtp_code;                  /* the deciding server reply, for logs */
	char smtp_text[1024];
	struct outcome_rcpt *rcpt;      /* one per envelope recipient */
	size_t nrcpts;
	int connected;                  /* a connection was made */
	int tls_used;                   /* ... and ran over TLS */
	char peer[128];
	uint64_t size;                  /* message bytes on the wire */
};

/* Facts the send path saw, turned into an outcome by outcome_settle. */
struct outcome_facts {
	const struct err *err;          /* NULL or unset: no failure */
	enum outcome_scope scope;       /* where err arose */
	int lmtp;                       /* per-recipient final replies */
	int delivered;                  /* SMTP: 250 to the end of data */
	int maybe_delivered;            /* lost, or not 250, after the dot */
};

/* Every recipient pending, class permanent with no error yet. */
int outcome_init(struct outcome *o, size_t nrcpts, struct err *e);
void outcome_free(struct outcome *o);
/* Derive class, recipient states and error from the facts and the reply
 * codes already stored in o->rcpt. */
void outcome_settle(struct outcome *o, const struct outcome_facts *f);
/* The session failed before or outside the message (err set). */
void outcome_session_failure(struct outcome *o, const struct err *e);

/* 1 for a reply that asks for authentication or TLS first (530, or the
 * enhanced code 5.7.0): the session, not the message, is at fault. */
int outcome_reply_is_session(int code, const char *enh);

/* Exit status of a direct send (0 when delivered). */
int outcome_exit_code(const struct outcome *o);
int outcome_delivered(const struct outcome *o);
/* `queue tempfail`: worth storing for a later attempt. */
int outcome_retry_later(const struct outcome *o);
/* Failover: another account may take it without duplicating it. */
int outcome_try_elsewhere(const struct outcome *o);
/* Copy (deep) for a caller that outlives the send. */
int outcome_copy(struct outcome *dst, const struct outcome *src,
		 struct err *e);

/* "delivered", "temporary failure", ... for logs and messages. */
const char *outcome_class_name(enum outcome_class c);
const char *outcome_scope_name(enum outcome_scope s);

#endif
