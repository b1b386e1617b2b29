/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * submit - delivery attempts: the I/O pump between the network and the
 * SMTP engine.  Connects through the gate (gate.h), reads replies into the
 * engine, writes its commands (coalesced: the output buffer is flushed
 * only when a reply is awaited), streams the message body through the
 * DATA encoder in blocks of MSG_CHUNK input bytes, each written at once in
 * whole 16 KiB TLS records, the final dot in the last write - or,
 * when the engine chose BDAT, reads it in chunks of 256 KiB from the msg
 * BDAT reader (one chunk buffer per session) and writes each after the
 * BDAT line the engine queued - and turns what happened into one typed
 * outcome per message (outcome.h).
 *
 * A connection lost while the reply to the end of data (or to BDAT LAST)
 * is outstanding is a temporary failure whose message says the message
 * may have been delivered (class maybe-delivered).  Bytes the server sends
 * beyond its 220 to STARTTLS, its 354 to DATA, or the replies before BDAT
 * LAST are refused (ERR_PROTOCOL) before the handshake, the body or the
 * last chunk.
 *
 * A TLS mode that does not suit the server gets a hint (err.h) judged
 * from what the server did: a TLS record instead of the greeting, or
 * silence on port 465, while STARTTLS or no TLS was chosen ("set
 * tls_starttls off"); an SMTP greeting where the implicit TLS handshake
 * expected a record ("set tls_starttls on").
 */
#ifndef MSMTP_SUBMIT_H
#define MSMTP_SUBMIT_H

#include <stddef.h>
#include "err.h"
#include "gate.h"
#include "msg.h"
#include "outcome.h"
#include "reply.h"

struct submit_msg {
	const char *from;               /* envelope sender ("" = null) */
	char *const *rcpts;
	size_t nrcpts;
	struct msg *msg;
	int force_partial;              /* per-recipient outcome (queued
					   messages), whatever the account says */
};

/* The session, for --serverinfo, --debug and the log. */
struct submit_info {
	int connected;
	int tls_used;
	char peer[128];
	char greeting[1024];
	struct smtp_caps caps;
	/* session and certificate summary (--serverinfo, --debug only):
	 * malloc'd or NULL.  On the heap so that the struct, which every
	 * send holds on its stack, stays small. */
	char *tls_info;
};

/* Zero a submit_info before its first use; this releases what a session
 * left in it (the struct may be used again after). */
void submit_info_free(struct submit_info *info);

/* One message.  *o is initialised here and always settled (a failure to
 * connect is a session-scope outcome).  Returns 0 when delivered. */
int submit_message(struct gate *g, const struct submit_msg *m,
		   struct outcome *o, struct submit_info *info);

/* -S: connect, EHLO (and STARTTLS), QUIT. */
int submit_probe(struct gate *g, struct submit_info *info, struct err *e);
/* --rmqs: connect, EHLO, STARTTLS and AUTH as for a send, ETRN arg,
 * QUIT.  No ETRN offered: ERR_UNAVAILABLE; a 4xx refusal ERR_TEMPFAIL. */
int submit_etrn(struct gate *g, const char *arg, struct submit_info *info,
		struct err *e);

/* Many messages over one session (queue runs): RSET between failed
 * transactions, QUIT at the end.  next() hands over each message (0 when
 * there are no more); done() gets its outcome right after the server's
 * reply - so the caller can record it before anything else happens.  The
 * outcome passed to done() is valid during the call only. */
struct submit_batch {
	int (*next)(void *ctx, struct submit_msg *m);
	void (*done)(void *ctx, const struct outcome *o);
	void *ctx;
};
/* Returns -1 (err set) when the session itself failed; messages already
 * reported through done() are settled either way, those never handed
 * over are untouched. */
int submit_batch_run(struct gate *g, const struct submit_batch *b,
		     struct submit_info *info, struct err *e);

#endif
