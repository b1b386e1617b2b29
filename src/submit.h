/*
 * submit - one delivery attempt: the I/O pump between the network and the
 * SMTP engine.  Opens the connection, reads replies into the engine,
 * writes its commands (coalesced: the output buffer is flushed only when
 * a reply is awaited), streams the message body through the DATA encoder
 * in large blocks with the final dot in the last write, and turns lost
 * connections and timeouts into errors that name the stage.  A connection
 * lost while the reply to the end of data is outstanding is a temporary
 * failure whose message says the message may have been delivered.
 */
#ifndef MSMTP_SUBMIT_H
#define MSMTP_SUBMIT_H

#include <stddef.h>
#include <stdint.h>
#include "conf.h"
#include "err.h"
#include "msg.h"
#include "reply.h"
#include "tls.h"
#include "secret.h"
#include "smtp.h"

struct submit_batch;

struct submit_params {
	const struct account *acct;
	const char *from;               /* envelope sender */
	char *const *rcpts;
	size_t nrcpts;
	struct msg *msg;                /* NULL for serverinfo */
	int serverinfo;
	int tls;                        /* 0 none, 1 STARTTLS, 2 implicit TLS */
	struct tls_params tlsp;
	const char *auth;               /* NULL: none; "on" or a method */
	const char *user;
	const struct secret *password;  /* password or OAuth token */
	int force_partial;              /* partial delivery whatever the account says */
	const struct submit_batch *batch_; /* set by submit_run_batch */
};

struct submit_result {
	int connected;                  /* a session was attempted */
	int delivered;                  /* final 250 seen */
	int maybe_delivered;            /* lost after the final dot */
	int smtp_code;                  /* last server reply */
	char smtp_text[1024];
	char peer[128];
	char greeting[1024];
	struct smtp_caps caps;          /* for --serverinfo */
	uint64_t size;
	int tls_used;                   /* the session ran over TLS */
	struct smtp_rcpt_result *rcpts; /* per recipient (malloc'd; see below) */
	char tls_info[4096];            /* session and certificate summary */
};

int submit_run(const struct submit_params *p, struct submit_result *res,
	       struct err *e);

/* Many messages over one session (queue runs): RSET between failed
 * transactions, QUIT at the end.  next() hands over each message (0 when
 * there are no more); done() gets its outcome right after the server's
 * reply - so the caller can record it before anything else happens.  The
 * result passed to done() is valid during the call only. */
struct submit_msg {
	const char *from;
	char *const *rcpts;
	size_t nrcpts;
	struct msg *msg;
	int force_partial;      /* per-recipient outcome (queued messages) */
};
struct submit_batch {
	int (*next)(void *ctx, struct submit_msg *m);
	void (*done)(void *ctx, const struct submit_result *res, int rc,
		     const struct err *e);
	void *ctx;
};
/* Returns -1 (err set) when the session itself failed; messages already
 * reported through done() are settled either way. */
int submit_run_batch(const struct submit_params *p,
		     const struct submit_batch *b, struct submit_result *res,
		     struct err *e);
void submit_result_free(struct submit_result *res);

#endif
