/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * smtpd - the server side of `sendmail -bs`: an SMTP engine without I/O,
 * the mirror of smtp.h.  The driver feeds the bytes the client wrote,
 * steps the engine, writes its replies, stores the message body it hands
 * out, and answers each complete message with the outcome of its
 * delivery.  Pure: no I/O, no logging.
 *
 * Protocol (RFC 5321 as a submission front end on a local pipe): a 220
 * greeting; HELO or EHLO (8BITMIME, PIPELINING, SMTPUTF8,
 * ENHANCEDSTATUSCODES; no SIZE, AUTH, STARTTLS or CHUNKING); MAIL, RCPT,
 * DATA with dot-unstuffing and the end at a line holding only "."; RSET,
 * NOOP, HELP, VRFY (252), QUIT (221, then the session ends).  Commands
 * may be pipelined: they are answered in order.  Envelope addresses are
 * checked at MAIL (553 5.1.7) and RCPT (553 5.1.3); a syntax error is
 * 501; commands out of order 503.  Body lines have no length limit;
 * command lines are limited to SMTPD_LINE_MAX (500 5.5.2 beyond).  Too
 * many errors in a row end the session with 421.  The reply to the final
 * dot is the driver's (smtpd_message_result).  Out of memory: an address
 * that cannot be copied gets 451 4.3.0; a reply or message bytes that
 * cannot be kept end the session (smtpd_out_of_memory).
 */
#ifndef MSMTP_SMTPD_H
#define MSMTP_SMTPD_H

#include <stddef.h>
#include "buf.h"
#include "err.h"

#define SMTPD_LINE_MAX 4096
#define SMTPD_BODY_CHUNK (64 * 1024)
#define SMTPD_MAX_ERRORS 20
#define SMTPD_MAX_RCPTS 100000

enum smtpd_event {
	SMTPD_EV_NONE,          /* all input used: write the replies, read more */
	SMTPD_EV_BODY,          /* message bytes: smtpd_body(), then step again */
	SMTPD_EV_MESSAGE,       /* the message is complete: deliver it, then
				   smtpd_message_result() */
	SMTPD_EV_CLOSE          /* write the replies and end the session */
};

struct smtpd_session;

struct smtpd_session *smtpd_new(const char *hostname, struct err *e);
void smtpd_free(struct smtpd_session *s);

/* The 220 greeting; or a 554 5.3.5 greeting naming why this session
 * cannot work (a configuration error), after which the session closes. */
void smtpd_greet(struct smtpd_session *s);
void smtpd_refuse(struct smtpd_session *s, const char *why);
/* The same for a passing condition (out of memory): 421 4.3.0, close. */
void smtpd_unavailable(struct smtpd_session *s, const char *why);

/* Append client bytes (the engine keeps what it has not used yet). */
int smtpd_feed(struct smtpd_session *s, const char *p, size_t n,
	       struct err *e);
/* Work through the input until something needs the driver. */
enum smtpd_event smtpd_step(struct smtpd_session *s);
/* EV_BODY: the unstuffed bytes (valid until the next step). */
void smtpd_body(struct smtpd_session *s, const char **p, size_t *n);
/* EV_MESSAGE: the envelope. */
const char *smtpd_sender(const struct smtpd_session *s);
char *const *smtpd_rcpts(const struct smtpd_session *s, size_t *n);
/* The reply to the final dot (code 250/4xx/5xx, its enhanced code, one
 * line of text); the transaction is over and the next command is read. */
void smtpd_message_result(struct smtpd_session *s, int code, const char *enh,
			  const char *text);
/* The client stayed silent too long: 421, then close. */
void smtpd_timeout(struct smtpd_session *s);

/* 1 while a line (a command, or a line of the message) has begun but
 * not ended: the driver bounds how long a line may take. */
int smtpd_mid_line(const struct smtpd_session *s);
/* 1 between MAIL and the reply to the end of data. */
int smtpd_in_transaction(const struct smtpd_session *s);
/* 1 once QUIT was answered (a regular end). */
int smtpd_quit_seen(const struct smtpd_session *s);
/* 1 when a reply or message bytes could not be kept (out of memory): the
 * session ends there (EV_CLOSE; the replies before it are in smtpd_out,
 * the driver adds a 421), and the message in progress is never handed
 * out as complete. */
int smtpd_out_of_memory(const struct smtpd_session *s);

/* Replies produced since the last smtpd_out_clear(). */
const struct buf *smtpd_out(const struct smtpd_session *s);
void smtpd_out_clear(struct smtpd_session *s);

#endif
