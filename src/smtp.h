/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * smtp - the SMTP/LMTP client engine.  No I/O: it consumes parsed replies
 * and produces command lines; the driver (submit) moves the bytes.
 *
 * Protocol (RFC 5321, 2920 pipelining, 1652 8BITMIME, 1870 SIZE, 3461 DSN,
 * 6531 SMTPUTF8, 2033 LMTP).  Policy decided here:
 *  - EHLO, falling back to HELO when EHLO is refused with a 5xx.
 *  - With PIPELINING, MAIL, every RCPT and DATA go out in one batch; the
 *    replies are matched through a FIFO of expected replies.
 *  - Recipients are all-or-nothing unless partial_delivery: one refused
 *    RCPT means nothing is sent.  When DATA was pipelined and the server
 *    nevertheless answered 354 while some recipients were accepted, the
 *    only way not to deliver to those is to drop the connection without
 *    the final dot (SMTP_WANT_ABORT); a server must discard an unfinished
 *    transaction.  When none was accepted, a lone "." ends the empty data
 *    phase cleanly.
 *  - RSET and QUIT after a failed transaction, QUIT after success (left
 *    out, the connection just closed, when there is no memory to queue it).
 *  - CHUNKING (RFC 3030): when the server offers it and the account has
 *    `chunking` on, the message goes with BDAT instead of DATA.  MAIL and
 *    the RCPTs are pipelined as above but without DATA, and every reply to
 *    them is read before the first chunk (so all-or-nothing needs no
 *    aborted data phase: a refused recipient means RSET, nothing sent).
 *    The driver reads each chunk and offers it (smtp_bdat); the engine
 *    writes "BDAT <n>" or "BDAT <n> LAST".  With PIPELINING a second chunk
 *    may go before the first is answered (never more than two replies
 *    outstanding, so neither side can block the other); without it each
 *    chunk waits for its reply.  LAST goes only when every earlier chunk is
 *    answered.  Its reply is the reply to the end of data (only 250
 *    accepts; LMTP: one per accepted recipient).  A refused earlier chunk
 *    fails the message (message scope): RSET follows, replies to chunks
 *    still in flight are ignored.
 *
 * Every command line carries the offset from which it is secret (AUTH
 * payloads, a later issue) so the transcript writer can redact it.
 * STARTTLS (RFC 3207): when required, it comes right after EHLO; a server
 * that does not offer it, or answers other than 220, ends the session
 * before anything else is sent.  AUTH follows (after TLS): the driver
 * picks the mechanism and computes each response; 535 and other 5xx give
 * ERR_NOPERM, 4xx ERR_TEMPFAIL, a server without AUTH ERR_UNAVAILABLE.
 *
 * Every failure is tagged with its scope (outcome.h): greeting, EHLO,
 * STARTTLS, AUTH, DSN support and a 530/5.7.0 to MAIL or RCPT are the
 * session's; other refusals of MAIL, DATA, a BDAT chunk, the end of data
 * and the size are the message's; RCPT and LMTP per-recipient refusals the recipients'.
 * Only 250 accepts the end of data; another 2xx there is a protocol error
 * after which the message may have been delivered.  An envelope address
 * with UTF-8 goes to a server without SMTPUTF8 with its domain as A-labels
 * (RFC 5890) when its local part is ASCII; otherwise the message is
 * refused here (ERR_DATAERR) before MAIL.
 */
#ifndef MSMTP_SMTP_H
#define MSMTP_SMTP_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "err.h"
#include "outcome.h"
#include "reply.h"

/* Longest command line we build (RFC 5321 4.5.3.1.4 allows 512 including
 * CRLF; AUTH lines may be longer and get their own limit later). */
#define SMTP_CMD_MAX 2048

struct smtp_params {
	int lmtp;
	const char *helo_domain;
	const char *from;               /* envelope sender; "" = null sender */
	char *const *rcpts;
	size_t nrcpts;
	int body_8bit;                  /* message has bytes >= 0x80 */
	int smtputf8;                   /* an envelope address needs SMTPUTF8 */
	uint64_t size;                  /* message size for SIZE= */
	const char *dsn_notify;         /* NULL or e.g. "failure,delay" / "never" */
	const char *dsn_return;         /* NULL, "headers" or "full" */
	int partial_delivery;
	int serverinfo;                 /* stop after the capabilities */
	const char *etrn;               /* --rmqs: send ETRN with this, QUIT */
	int starttls;                   /* STARTTLS is required first */
	int auth;                       /* authenticate before MAIL */
	int oauth;                      /* the password is an OAuth token */
	int auth_retry;                 /* a refused AUTH may be tried once
					   more (a token believed valid) */
	int multi;                      /* many messages in one session: the
					   driver supplies each with
					   smtp_next_message (queue runs) */
	int chunking;                   /* BDAT when CHUNKING is offered */
};

enum smtp_want {
	SMTP_WANT_REPLY,        /* flush output, read one reply, smtp_on_reply */
	SMTP_WANT_BODY,         /* flush, send the encoded body + final dot, smtp_body_sent */
	SMTP_WANT_DONE,         /* success: flush output and close */
	SMTP_WANT_FAIL,         /* failure in err: flush output and close */
	SMTP_WANT_ABORT,        /* failure in err: close WITHOUT sending more.
				   From a call without an err (smtp_bdat,
				   smtp_tls_done, smtp_auth_begin,
				   smtp_auth_respond): a command could not
				   be queued for lack of memory, a session
				   failure the driver records as ERR_OSERR */
	SMTP_WANT_TLS,          /* flush, check nothing else arrived, do the
				   TLS handshake, then smtp_tls_done */
	SMTP_WANT_AUTH,         /* choose a mechanism (smtp_caps), then
				   smtp_auth_begin or smtp_quit_failed */
	SMTP_WANT_AUTH_STEP,    /* answer smtp_auth_challenge() with
				   smtp_auth_respond */
	SMTP_WANT_NEXT,         /* multi: the transaction (if any) is over;
				   smtp_next_message or smtp_finish */
	SMTP_WANT_AUTH_RETRY,   /* AUTH was refused and auth_retry is set:
				   get a fresh token, then smtp_auth_begin
				   again, or smtp_quit_failed */
	SMTP_WANT_CHUNK,        /* BDAT: offer the next chunk (read it first;
				   keep it until sent) with smtp_bdat */
	SMTP_WANT_CHUNK_SEND    /* flush (the BDAT line), write the offered
				   chunk's bytes, then smtp_chunk_sent */
};

/* Result for one recipient. */
struct smtp_rcpt_result {
	int code;               /* RCPT reply code (0 if never answered) */
	int lmtp_code;          /* LMTP per-recipient final reply code */
	char text[OUTCOME_TEXT_MAX]; /* the deciding reply as one line */
};

struct smtp_session;

struct smtp_session *smtp_new(const struct smtp_params *p, struct err *e);
void smtp_free(struct smtp_session *s);

/* The session starts awaiting the greeting: returns SMTP_WANT_REPLY. */
enum smtp_want smtp_start(struct smtp_session *s);
enum smtp_want smtp_on_reply(struct smtp_session *s, const struct reply *r,
			     struct err *e);
/* The driver has sent the body and the final ".\r\n". */
enum smtp_want smtp_body_sent(struct smtp_session *s);
/* BDAT: the driver offers the next chunk, n bytes, the last one or not.
 * SMTP_WANT_CHUNK_SEND: the BDAT line is queued, send it and the chunk;
 * SMTP_WANT_REPLY: not yet (earlier chunks must be answered first) - read
 * replies and offer the same chunk again at the next SMTP_WANT_CHUNK. */
enum smtp_want smtp_bdat(struct smtp_session *s, size_t n, int last);
/* Every byte of the offered chunk has been written. */
enum smtp_want smtp_chunk_sent(struct smtp_session *s);
/* The TLS handshake after STARTTLS succeeded: everything learnt before
 * it is forgotten and EHLO is sent again (RFC 3207 4.2). */
enum smtp_want smtp_tls_done(struct smtp_session *s);
/* AUTH (RFC 4954): start with an optional base64 initial response (NULL:
 * none; "": empty, sent as "="); the payload is marked secret. */
enum smtp_want smtp_auth_begin(struct smtp_session *s, const char *mech,
			       const char *initial);
/* The longest reply line the next reply may have: REPLY_AUTH_LINE_MAX
 * while an AUTH reply is awaited, else REPLY_LINE_MAX. */
size_t smtp_reply_line_max(const struct smtp_session *s);
/* The base64 text of the last 334 challenge. */
const char *smtp_auth_challenge(const struct smtp_session *s);
/* Send one base64 response (secret); "*" cancels the exchange. */
enum smtp_want smtp_auth_respond(struct smtp_session *s, const char *resp);
/* multi: start the next message (only its from, rcpts, nrcpts,
 * body_8bit, smtputf8, size, dsn_* and partial_delivery are used).  A
 * message the server cannot take (SIZE, DSN) fails at once: err is set
 * and SMTP_WANT_NEXT returned without sending anything. */
enum smtp_want smtp_next_message(struct smtp_session *s,
				 const struct smtp_params *m, struct err *e);
/* multi: no more messages: QUIT. */
enum smtp_want smtp_finish(struct smtp_session *s);
/* The driver failed (error already in its err): QUIT and finish. */
enum smtp_want smtp_quit_failed(struct smtp_session *s);

/* Output produced since the last smtp_out_clear(): wire bytes (CRLF line
 * ends) and, per line, where it starts, its length (without CRLF) and the
 * offset from which it must be redacted in transcripts. */
const struct buf *smtp_out(const struct smtp_session *s);
size_t smtp_out_lines(const struct smtp_session *s);
void smtp_out_line(const struct smtp_session *s, size_t i, size_t *off,
		   size_t *len, size_t *redact_from);
void smtp_out_clear(struct smtp_session *s);

/* What the session waits for, for messages: "greeting", "EHLO", "MAIL",
 * "RCPT", "DATA", "BDAT" (a chunk before the last), "end of data" (also
 * BDAT LAST), "QUIT", ... */
const char *smtp_stage(const struct smtp_session *s);
/* Replies the server owes for what was already handed to the driver
 * (expected replies minus those of lines still queued): 0 means any byte
 * that arrives now answers nothing. */
size_t smtp_replies_owed(const struct smtp_session *s);
/* 1 while the reply to the end of data is outstanding (a lost connection
 * now means the message may have been delivered). */
int smtp_awaiting_eod(const struct smtp_session *s);
/* 1 once the message was accepted (final 250 seen). */
int smtp_delivered(const struct smtp_session *s);
/* 1 when the server answered the end of data with something other than
 * 250 (a 2xx that is not 250): the message may have been delivered. */
int smtp_eod_unclear(const struct smtp_session *s);
/* Where the current failure arose (session, message or recipients). */
enum outcome_scope smtp_failure_scope(const struct smtp_session *s);
const struct smtp_caps *smtp_caps(const struct smtp_session *s);
const char *smtp_greeting(const struct smtp_session *s);
/* The deciding server reply as one line, for the log: the one that
 * failed the message, else the last (code 0 if none). */
int smtp_last_reply(const struct smtp_session *s, const char **text);
const struct smtp_rcpt_result *smtp_rcpt(const struct smtp_session *s,
					 size_t i);

#endif
