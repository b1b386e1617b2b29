/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "smtp.h"

#include "addr.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum smtp_exp {
	EXP_GREETING, EXP_EHLO, EXP_HELO, EXP_MAIL, EXP_RCPT, EXP_DATA,
	EXP_EOD, EXP_EMPTY_EOD, EXP_RSET, EXP_QUIT, EXP_STARTTLS, EXP_AUTH,
	EXP_BDAT,               /* a chunk before the last (idx: its number) */
	EXP_ETRN
};

/* BDAT replies that may be outstanding at once with PIPELINING: the next
 * chunk travels while the server answers the previous one. */
#define SMTP_BDAT_WINDOW 2

struct smtp_expect {
	enum smtp_exp kind;
	size_t idx;             /* recipient index for RCPT / LMTP EOD */
};

struct smtp_outline {
	size_t off, len, redact_from;
};

struct smtp_session {
	struct smtp_params p;
	struct smtp_caps caps;
	char greeting[1024];

	struct buf out;
	struct smtp_outline *lines;
	size_t nlines, lines_cap;

	struct smtp_expect *fifo;       /* ring of expected replies */
	size_t fifo_cap, fifo_head, fifo_len;

	struct smtp_rcpt_result *res;
	size_t next_rcpt;               /* non-pipelined: next RCPT to send */
	size_t accepted;                /* RCPTs answered 2xx */
	size_t refused;
	size_t lmtp_answered;
	size_t lmtp_ok;
	int mail_code;
	int in_txn;                     /* MAIL sent and not yet finished */
	int delivered;
	int failed;                     /* err was set: finish with FAIL */
	int oom;                        /* an output allocation failed */
	int quit_after_rset;            /* send QUIT once RSET is answered */
	int txn_over;                   /* multi: a transaction just ended */
	int tls_on;                     /* the TLS handshake is done */
	int eod_unclear;                /* a 2xx other than 250 after the dot */
	int rcpt_needs_session;         /* a RCPT got 530 or 5.7.0 */
	enum outcome_scope scope;       /* of the failure in err */
	char *ascii_from;               /* A-label forms for a server without */
	char **ascii_rcpts;             /* SMTPUTF8 (NULL: use p's) */
	int auth_done;                  /* 235 received */
	struct buf challenge;           /* the last 334 (REPLY_AUTH_LINE_MAX) */
	int auth_retried;
	int last_code;
	char last_text[1024];
	int decided_code;               /* the reply that failed the message */
	char decided_text[1024];
	int bdat;                       /* this transaction uses BDAT */
	size_t chunks_sent;
	size_t chunks_unanswered;       /* chunks before LAST, no reply yet */
	int chunk_refused;              /* later chunk replies are ignored */
	int offered_last;               /* the chunk being sent is LAST */
};

struct smtp_session *smtp_new(const struct smtp_params *p, struct err *e)
{
	struct smtp_session *s = calloc(1, sizeof *s);

	if (s == NULL) {
		err_set(e, ERR_OSERR, "out of memory");
		return NULL;
	}
	s->p = *p;
	/* room for the commands plus one AUTH line carrying a long token */
	buf_init(&s->out, (p->nrcpts + 16) * (SMTP_CMD_MAX + 2)
		 + 2 * REPLY_AUTH_LINE_MAX);
	buf_init(&s->challenge, REPLY_AUTH_LINE_MAX + 1);
	s->fifo_cap = p->nrcpts * 2 + 8;
	s->fifo = calloc(s->fifo_cap, sizeof *s->fifo);
	s->res = calloc(p->nrcpts + 1, sizeof *s->res);
	if (s->fifo == NULL || s->res == NULL) {
		smtp_free(s);
		err_set(e, ERR_OSERR, "out of memory");
		return NULL;
	}
	return s;
}

/* Drop the A-label copies of the current message's addresses. */
static void smtp_free_ascii(struct smtp_session *s)
{
	size_t i;

	free(s->ascii_from);
	s->ascii_from = NULL;
	for (i = 0; s->ascii_rcpts && i < s->p.nrcpts; i++)
		free(s->ascii_rcpts[i]);
	free(s->ascii_rcpts);
	s->ascii_rcpts = NULL;
}

void smtp_free(struct smtp_session *s)
{
	if (s == NULL)
		return;
	smtp_free_ascii(s);
	buf_free(&s->challenge);
	buf_free(&s->out);
	free(s->lines);
	free(s->fifo);
	free(s->res);
	free(s);
}

static void smtp_expect(struct smtp_session *s, enum smtp_exp kind, size_t idx)
{
	/* capacity covers MAIL + 2 per recipient + DATA + RSET + QUIT */
	size_t slot = (s->fifo_head + s->fifo_len) % s->fifo_cap;

	s->fifo[slot].kind = kind;
	s->fifo[slot].idx = idx;
	s->fifo_len++;
}

/* Queue one command line; `redact_from` marks where a secret starts
 * (len = nothing secret).  An allocation failure is remembered and turned
 * into an error by smtp_on_reply (smtp_queued for the driver's calls), so
 * handlers need not check each line; a line that failed leaves no byte
 * behind.  -1 when it was not queued. */
static int smtp_cmd(struct smtp_session *s, const char *line, size_t redact_from)
{
	size_t len = strlen(line), off = s->out.len;

	if (s->nlines == s->lines_cap) {
		size_t ncap = s->lines_cap ? s->lines_cap * 2 : 16;
		struct smtp_outline *nl = realloc(s->lines, ncap * sizeof *nl);

		if (nl == NULL) {
			s->oom = 1;
			return -1;
		}
		s->lines = nl;
		s->lines_cap = ncap;
	}
	s->lines[s->nlines].off = off;
	s->lines[s->nlines].len = len;
	s->lines[s->nlines].redact_from = redact_from < len ? redact_from : len;
	if (buf_append(&s->out, line, len) < 0
	    || buf_append(&s->out, "\r\n", 2) < 0) {
		buf_truncate(&s->out, off);
		s->oom = 1;
		return -1;
	}
	s->nlines++;
	return 0;
}

/* After a call of the driver's (outside smtp_on_reply) queued commands:
 * one that could not be queued ends the session at once, a session
 * failure, before anything else is sent (smtp.h, SMTP_WANT_ABORT). */
static enum smtp_want smtp_queued(struct smtp_session *s, enum smtp_want w)
{
	if (!s->oom)
		return w;
	s->failed = 1;
	s->scope = OUTCOME_SESSION;
	return SMTP_WANT_ABORT;
}

static int smtp_cmdf(struct smtp_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int smtp_cmdf(struct smtp_session *s, const char *fmt, ...)
{
	char line[SMTP_CMD_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	return smtp_cmd(s, line, (size_t)-1);
}

const struct buf *smtp_out(const struct smtp_session *s)
{
	return &s->out;
}

size_t smtp_out_lines(const struct smtp_session *s)
{
	return s->nlines;
}

void smtp_out_line(const struct smtp_session *s, size_t i, size_t *off,
		   size_t *len, size_t *redact_from)
{
	*off = s->lines[i].off;
	*len = s->lines[i].len;
	*redact_from = s->lines[i].redact_from;
}

void smtp_out_clear(struct smtp_session *s)
{
	buf_reset(&s->out);
	s->nlines = 0;
}

/* ---- sending ---------------------------------------------------------- */

/* QUIT is a courtesy: when it cannot be queued the session just ends
 * without it (closing is as good), and nothing else fails for that. */
static void smtp_send_quit(struct smtp_session *s)
{
	int oom = s->oom;

	if (smtp_cmd(s, "QUIT", (size_t)-1) < 0) {
		s->oom = oom;
		return;
	}
	smtp_expect(s, EXP_QUIT, 0);
}

/* Without PIPELINING, QUIT waits for the reply to RSET (RFC 2920 3.1:
 * only a pipelining server may receive commands before their turn). */
static void smtp_send_rset_quit(struct smtp_session *s)
{
	smtp_cmd(s, "RSET", (size_t)-1);
	smtp_expect(s, EXP_RSET, 0);
	if (s->p.multi)
		s->txn_over = 1;        /* the session goes on */
	else if (s->caps.pipelining)
		smtp_send_quit(s);
	else
		s->quit_after_rset = 1;
}

/* Upper-case DSN NOTIFY list ("failure,delay" -> "FAILURE,DELAY"). */
static void smtp_upper(char *dst, size_t n, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < n && src[i]; i++)
		dst[i] = (char)toupper((unsigned char)src[i]);
	dst[i] = '\0';
}

static const char *smtp_wire_from(const struct smtp_session *s)
{
	return s->ascii_from ? s->ascii_from : s->p.from;
}

static const char *smtp_wire_rcpt(const struct smtp_session *s, size_t i)
{
	return s->ascii_rcpts ? s->ascii_rcpts[i] : s->p.rcpts[i];
}

static void smtp_send_mail(struct smtp_session *s)
{
	char line[SMTP_CMD_MAX];
	size_t o;

	o = (size_t)snprintf(line, sizeof line, "MAIL FROM:<%s>",
			     smtp_wire_from(s));
	if (s->caps.size && o < sizeof line)
		o += (size_t)snprintf(line + o, sizeof line - o, " SIZE=%llu",
				      (unsigned long long)s->p.size);
	if (s->p.body_8bit && s->caps.eightbitmime && o < sizeof line)
		o += (size_t)snprintf(line + o, sizeof line - o,
				      " BODY=8BITMIME");
	if (s->p.dsn_return && o < sizeof line)
		o += (size_t)snprintf(line + o, sizeof line - o, " RET=%s",
				      strcmp(s->p.dsn_return, "full") == 0
				      ? "FULL" : "HDRS");
	if (s->p.smtputf8 && s->caps.smtputf8 && o < sizeof line)
		o += (size_t)snprintf(line + o, sizeof line - o, " SMTPUTF8");
	smtp_cmd(s, line, (size_t)-1);
	smtp_expect(s, EXP_MAIL, 0);
	s->in_txn = 1;
}

static void smtp_send_rcpt(struct smtp_session *s, size_t i)
{
	if (s->p.dsn_notify) {
		char notify[128];

		smtp_upper(notify, sizeof notify, s->p.dsn_notify);
		smtp_cmdf(s, "RCPT TO:<%s> NOTIFY=%s", smtp_wire_rcpt(s, i),
			  notify);
	} else {
		smtp_cmdf(s, "RCPT TO:<%s>", smtp_wire_rcpt(s, i));
	}
	smtp_expect(s, EXP_RCPT, i);
}

static void smtp_send_data(struct smtp_session *s)
{
	smtp_cmd(s, "DATA", (size_t)-1);
	smtp_expect(s, EXP_DATA, 0);
}

/* Start the mail transaction: one batch with PIPELINING (RFC 2920: DATA
 * may close the batch; BDAT waits for every reply, RFC 3030 2), else MAIL
 * alone. */
static void smtp_send_transaction(struct smtp_session *s)
{
	size_t i;

	s->bdat = s->p.chunking && s->caps.chunking;
	s->chunks_sent = s->chunks_unanswered = 0;
	s->chunk_refused = s->offered_last = 0;
	smtp_send_mail(s);
	if (s->caps.pipelining) {
		for (i = 0; i < s->p.nrcpts; i++)
			smtp_send_rcpt(s, i);
		if (!s->bdat)
			smtp_send_data(s);
		s->next_rcpt = s->p.nrcpts;
	}
}

/* ---- failure helpers --------------------------------------------------- */

/* Record the failure (the first one wins, with its scope). */
static void smtp_vset_error(struct smtp_session *s, struct err *e,
			    enum outcome_scope scope, int code,
			    const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));
static void smtp_vset_error(struct smtp_session *s, struct err *e,
			    enum outcome_scope scope, int code,
			    const char *fmt, va_list ap)
{
	char msg[ERR_MSG_MAX];

	vsnprintf(msg, sizeof msg, fmt, ap);
	if (!err_isset(e)) {
		s->scope = scope;
		/* the log names this reply, not the 503s that follow it */
		s->decided_code = s->last_code;
		memcpy(s->decided_text, s->last_text, sizeof s->decided_text);
	}
	err_set(e, code, "%s", msg);
	s->failed = 1;
}

static void smtp_set_error(struct smtp_session *s, struct err *e,
			   enum outcome_scope scope, int code,
			   const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void smtp_set_error(struct smtp_session *s, struct err *e,
			   enum outcome_scope scope, int code,
			   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	smtp_vset_error(s, e, scope, code, fmt, ap);
	va_end(ap);
}

static enum smtp_want smtp_fail(struct smtp_session *s, struct err *e,
				enum outcome_scope scope, int code,
				const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static enum smtp_want smtp_fail(struct smtp_session *s, struct err *e,
				enum outcome_scope scope, int code,
				const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	smtp_vset_error(s, e, scope, code, fmt, ap);
	va_end(ap);
	return s->fifo_len > 0 ? SMTP_WANT_REPLY : SMTP_WANT_FAIL;
}

/* sysexits code for a server rejection: any 4xx asks the caller to retry. */
static int smtp_reject_code(int reply_code, int permanent_code)
{
	return reply_code / 100 == 4 ? ERR_TEMPFAIL : permanent_code;
}

/* The reply that decides a recipient refusal is the first refusal of
 * its class (with pipelining the error is noticed at DATA's reply, which
 * says nothing about the recipients). */
static void smtp_decide_rcpt(struct smtp_session *s, int any5)
{
	size_t i;

	for (i = 0; i < s->p.nrcpts; i++)
		if (s->res[i].code / 100 == (any5 ? 5 : 4)) {
			s->last_code = s->res[i].code;
			snprintf(s->last_text, sizeof s->last_text, "%s",
				 s->res[i].text);
			return;
		}
}

/* The error for refused recipients: every address with its reply. */
static void smtp_rcpt_error(struct smtp_session *s, struct err *e,
			    const char *what)
{
	char msg[ERR_MSG_MAX];
	size_t i, o = 0;
	int any5 = 0;

	o = (size_t)snprintf(msg, sizeof msg, "%s", what);
	for (i = 0; i < s->p.nrcpts && o < sizeof msg; i++) {
		if (s->res[i].code / 100 == 2)
			continue;
		if (s->res[i].code / 100 != 4)
			any5 = 1;
		o += (size_t)snprintf(msg + o, sizeof msg - o, "%s<%s> (%s)",
				      o > strlen(what) ? "; " : "",
				      s->p.rcpts[i], s->res[i].text);
	}
	/* a 530 / 5.7.0 says "authenticate first": the session's fault */
	if (!err_isset(e))
		smtp_decide_rcpt(s, any5);
	smtp_set_error(s, e, s->rcpt_needs_session ? OUTCOME_SESSION
		       : OUTCOME_RECIPIENT, any5 ? ERR_DATAERR : ERR_TEMPFAIL,
		       "%s", msg);
}

/* All recipient replies are in: decide whether the data phase may go on.
 * Returns 1 to continue with DATA, 0 when the transaction failed (err). */
static int smtp_rcpts_ok(struct smtp_session *s, struct err *e)
{
	if (s->mail_code / 100 != 2)
		return 0;       /* already reported */
	if (s->refused == 0)
		return 1;
	if (s->accepted == 0) {
		smtp_rcpt_error(s, e, "no recipient was accepted by the server: ");
		return 0;
	}
	if (!s->p.partial_delivery) {
		smtp_rcpt_error(s, e, "recipients refused by the server, "
				"nothing was sent: ");
		return 0;
	}
	return 1;
}

/* A server without SMTPUTF8 gets every envelope address with its domain
 * as A-labels; a UTF-8 local part cannot be said to it at all. */
static int smtp_ascii_envelope(struct smtp_session *s, struct err *e)
{
	size_t i;

	smtp_free_ascii(s);
	if (!s->p.smtputf8 || s->caps.smtputf8)
		return 0;
	s->ascii_rcpts = calloc(s->p.nrcpts + 1, sizeof *s->ascii_rcpts);
	if (s->ascii_rcpts == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	if (addr_to_ascii(s->p.from, &s->ascii_from, e) < 0)
		return -1;
	for (i = 0; i < s->p.nrcpts; i++)
		if (addr_to_ascii(s->p.rcpts[i], &s->ascii_rcpts[i], e) < 0)
			return -1;
	return 0;
}

/* Can the message go to this server at all?  DSN support (the account's
 * requirement: a session matter), the size limit and SMTPUTF8 (the
 * message's).  -1 with err and scope set when it cannot; nothing sent. */
static int smtp_message_fits(struct smtp_session *s, struct err *e)
{
	if ((s->p.dsn_notify || s->p.dsn_return) && !s->caps.dsn) {
		smtp_set_error(s, e, OUTCOME_SESSION, ERR_UNAVAILABLE,
			       "the server does not support DSN (delivery "
			       "status notifications were requested)");
		return -1;
	}
	if (s->caps.size && s->caps.size_max > 0 && s->p.size > s->caps.size_max) {
		smtp_set_error(s, e, OUTCOME_MESSAGE, ERR_UNAVAILABLE,
			       "message size %llu exceeds the server's limit of "
			       "%llu bytes", (unsigned long long)s->p.size,
			       (unsigned long long)s->caps.size_max);
		return -1;
	}
	if (smtp_ascii_envelope(s, e) < 0) {
		s->scope = e->code == ERR_OSERR ? OUTCOME_SESSION : OUTCOME_MESSAGE;
		s->failed = 1;
		smtp_free_ascii(s);
		return -1;
	}
	return 0;
}

/* --rmqs (RFC 1985): ask the server to flush its queue for a node. */
static enum smtp_want smtp_send_etrn(struct smtp_session *s, struct err *e)
{
	if (!s->caps.etrn) {
		smtp_send_quit(s);
		return smtp_fail(s, e, OUTCOME_SESSION, ERR_UNAVAILABLE,
				 "the server does not support ETRN (remote "
				 "message queue starting)");
	}
	smtp_cmdf(s, "ETRN %s", s->p.etrn);
	smtp_expect(s, EXP_ETRN, 0);
	return SMTP_WANT_REPLY;
}

/* 250-253 (RFC 1985 5): the queue run started; else a refusal. */
static enum smtp_want smtp_on_etrn(struct smtp_session *s,
				   const struct reply *r, struct err *e)
{
	smtp_send_quit(s);
	if (r->code >= 250 && r->code <= 253)
		return SMTP_WANT_REPLY;
	return smtp_fail(s, e, OUTCOME_SESSION,
			 r->code / 100 == 4 ? ERR_TEMPFAIL : ERR_UNAVAILABLE,
			 "the server refused ETRN: %s", s->last_text);
}

/* ---- reply handlers ---------------------------------------------------- */

static enum smtp_want smtp_after_caps(struct smtp_session *s, struct err *e)
{
	if (s->p.starttls && !s->tls_on) {
		if (!s->caps.starttls) {
			smtp_send_quit(s);
			return smtp_fail(s, e, OUTCOME_SESSION, ERR_UNAVAILABLE,
					 "the server does not offer STARTTLS, "
					 "which this account requires; nothing "
					 "was sent");
		}
		smtp_cmd(s, "STARTTLS", (size_t)-1);
		smtp_expect(s, EXP_STARTTLS, 0);
		return SMTP_WANT_REPLY;
	}
	if (s->p.auth && !s->auth_done && !s->p.serverinfo) {
		if (!s->caps.auth) {
			smtp_send_quit(s);
			return smtp_fail(s, e, OUTCOME_SESSION, ERR_UNAVAILABLE,
					 "the server does not support "
					 "authentication (AUTH not offered)");
		}
		return SMTP_WANT_AUTH;
	}
	if (s->p.etrn) {
		return smtp_send_etrn(s, e);
	}
	if (s->p.serverinfo) {
		smtp_send_quit(s);
		return SMTP_WANT_REPLY;
	}
	if (s->p.multi)
		return SMTP_WANT_NEXT;
	if (smtp_message_fits(s, e) < 0) {
		smtp_send_quit(s);
		return SMTP_WANT_REPLY;
	}
	smtp_send_transaction(s);
	return SMTP_WANT_REPLY;
}

static enum smtp_want smtp_on_greeting(struct smtp_session *s,
				       const struct reply *r, struct err *e)
{
	reply_oneline(r, s->greeting, sizeof s->greeting);
	if (r->code / 100 == 2) {
		smtp_cmdf(s, "%s %s", s->p.lmtp ? "LHLO" : "EHLO",
			  s->p.helo_domain);
		smtp_expect(s, EXP_EHLO, 0);
		return SMTP_WANT_REPLY;
	}
	if (r->code / 100 == 4)
		return smtp_fail(s, e, OUTCOME_SESSION, ERR_TEMPFAIL,
				 "the server is not available: %s", s->greeting);
	smtp_send_quit(s);
	return smtp_fail(s, e, OUTCOME_SESSION, ERR_PROTOCOL,
			 "the server refuses the connection: %s", s->greeting);
}

static enum smtp_want smtp_on_ehlo(struct smtp_session *s,
				   const struct reply *r, struct err *e)
{
	if (r->code / 100 == 2) {
		reply_parse_ehlo(r, &s->caps);
		return smtp_after_caps(s, e);
	}
	if (r->code == 421)
		return smtp_fail(s, e, OUTCOME_SESSION, ERR_TEMPFAIL,
				 "the server closes the connection: %s",
				 s->last_text);
	if (s->p.lmtp) {
		smtp_send_quit(s);
		return smtp_fail(s, e, OUTCOME_SESSION, ERR_PROTOCOL, "LHLO refused: %s",
				 s->last_text);
	}
	smtp_cmdf(s, "HELO %s", s->p.helo_domain);
	smtp_expect(s, EXP_HELO, 0);
	return SMTP_WANT_REPLY;
}

static enum smtp_want smtp_on_helo(struct smtp_session *s,
				   const struct reply *r, struct err *e)
{
	if (r->code / 100 == 2) {
		memset(&s->caps, 0, sizeof s->caps);
		return smtp_after_caps(s, e);
	}
	if (r->code / 100 == 4)
		return smtp_fail(s, e, OUTCOME_SESSION, ERR_TEMPFAIL, "HELO refused: %s",
				 s->last_text);
	smtp_send_quit(s);
	return smtp_fail(s, e, OUTCOME_SESSION, ERR_PROTOCOL,
			 "the server refused both EHLO and HELO: %s",
			 s->last_text);
}

/* End a failed transaction: RSET and QUIT when no DATA is pending. */
static enum smtp_want smtp_txn_failed(struct smtp_session *s)
{
	s->failed = 1;
	s->in_txn = 0;
	smtp_send_rset_quit(s);
	return SMTP_WANT_REPLY;
}

/* Every envelope reply is in: DATA, or the first BDAT chunk, or RSET. */
static enum smtp_want smtp_rcpts_done(struct smtp_session *s, struct err *e)
{
	if (!smtp_rcpts_ok(s, e))
		return smtp_txn_failed(s);
	if (s->bdat)
		return SMTP_WANT_CHUNK;
	smtp_send_data(s);
	return SMTP_WANT_REPLY;
}

static enum smtp_want smtp_on_mail(struct smtp_session *s,
				   const struct reply *r, struct err *e)
{
	/* pipelined BDAT without a recipient: nothing else to wait for */
	int no_rcpt = s->caps.pipelining && s->bdat && s->p.nrcpts == 0;

	s->mail_code = r->code;
	if (r->code / 100 != 2) {
		smtp_set_error(s, e, outcome_reply_is_session(r->code, r->enh)
			       ? OUTCOME_SESSION : OUTCOME_MESSAGE,
			       smtp_reject_code(r->code, ERR_DATAERR),
			       "envelope sender <%s> refused by the server: %s",
			       s->p.from, s->last_text);
		if (s->caps.pipelining && !no_rcpt)
			return SMTP_WANT_REPLY; /* RCPT and DATA replies follow */
		return smtp_txn_failed(s);
	}
	if (no_rcpt)
		return smtp_rcpts_done(s, e);
	if (!s->caps.pipelining) {
		s->next_rcpt = 1;
		smtp_send_rcpt(s, 0);
	}
	return SMTP_WANT_REPLY;
}

static enum smtp_want smtp_on_rcpt(struct smtp_session *s, size_t i,
				   const struct reply *r, struct err *e)
{
	struct smtp_rcpt_result *res = &s->res[i];

	/* after a refused MAIL the replies to pipelined RCPTs ("503 need
	 * MAIL") say nothing about the recipients */
	if (s->mail_code / 100 == 2) {
		res->code = r->code;
		reply_oneline(r, res->text, sizeof res->text);
		if (r->code / 100 == 2)
			s->accepted++;
		else
			s->refused++;
		if (outcome_reply_is_session(r->code, r->enh))
			s->rcpt_needs_session = 1;
	}
	if (s->caps.pipelining) {
		/* DATA's reply decides (smtp_on_data); BDAT decides here */
		if (s->bdat && i + 1 == s->p.nrcpts)
			return smtp_rcpts_done(s, e);
		return SMTP_WANT_REPLY;
	}
	if (s->next_rcpt < s->p.nrcpts) {
		smtp_send_rcpt(s, s->next_rcpt++);
		return SMTP_WANT_REPLY;
	}
	return smtp_rcpts_done(s, e);
}

static enum smtp_want smtp_on_data(struct smtp_session *s,
				   const struct reply *r, struct err *e)
{
	int go_on;

	/* DATA is answered 354 or refused (4xx/5xx): anything else is a
	 * reply to something else (bytes nobody asked for shifted the
	 * pipelined replies), and the stream cannot be trusted any more */
	if (r->code != 354 && r->code / 100 < 4) {
		smtp_set_error(s, e, OUTCOME_SESSION, ERR_PROTOCOL,
			       "the server answered DATA with \"%s\" (neither "
			       "354 nor a refusal); nothing was sent",
			       s->last_text);
		return SMTP_WANT_ABORT;
	}
	go_on = smtp_rcpts_ok(s, e);
	if (r->code == 354) {
		if (go_on)
			return SMTP_WANT_BODY;
		s->failed = 1;
		if (s->accepted > 0 && s->mail_code / 100 == 2)
			return SMTP_WANT_ABORT;
		/* Nobody would receive it: end the empty data phase. */
		smtp_cmd(s, ".", (size_t)-1);
		smtp_expect(s, EXP_EMPTY_EOD, 0);
		if (s->p.multi)
			s->txn_over = 1;
		else
			smtp_send_quit(s);
		return SMTP_WANT_REPLY;
	}
	if (go_on)
		smtp_set_error(s, e, OUTCOME_MESSAGE,
			       smtp_reject_code(r->code, ERR_UNAVAILABLE),
			       "the server refused DATA: %s", s->last_text);
	return smtp_txn_failed(s);
}

static enum smtp_want smtp_eod_finish(struct smtp_session *s, struct err *e)
{
	s->in_txn = 0;
	if (s->p.lmtp)
		s->delivered = s->lmtp_ok > 0;
	if (s->p.multi)
		s->txn_over = 1;
	else
		smtp_send_quit(s);
	if (s->delivered && s->refused > 0)
		smtp_rcpt_error(s, e, "message sent, but refused for: ");
	if (err_isset(e))
		s->failed = 1;
	return SMTP_WANT_REPLY;
}

/* Only 250 accepts the message (RFC 5321 4.3.2 allows nothing else
 * after the data); another 2xx is a lie we cannot read: maybe delivered. */
static void smtp_eod_reply_error(struct smtp_session *s, const struct reply *r,
				 enum outcome_scope scope, const char *who,
				 struct err *e)
{
	if (r->code / 100 == 2) {
		s->eod_unclear = 1;
		smtp_set_error(s, e, OUTCOME_SESSION, ERR_PROTOCOL, "the server "
			       "answered the end of data%s with \"%s\" instead "
			       "of 250; the message may have been delivered", who,
			       s->last_text);
		return;
	}
	if (*who)
		smtp_set_error(s, e, scope, smtp_reject_code(r->code,
			       ERR_UNAVAILABLE), "delivery%s failed: %s", who,
			       s->last_text);
	else
		smtp_set_error(s, e, scope, smtp_reject_code(r->code,
			       ERR_UNAVAILABLE), "the server did not accept the "
			       "message: %s", s->last_text);
}

static enum smtp_want smtp_on_eod(struct smtp_session *s, size_t i,
				  const struct reply *r, struct err *e)
{
	char who[ADDR_MAX_LEN + 16];

	if (!s->p.lmtp) {
		if (r->code == 250)
			s->delivered = 1;
		else
			smtp_eod_reply_error(s, r, OUTCOME_MESSAGE, "", e);
		return smtp_eod_finish(s, e);
	}
	/* LMTP (RFC 2033 4.2): one reply per accepted recipient. */
	s->res[i].lmtp_code = r->code;
	reply_oneline(r, s->res[i].text, sizeof s->res[i].text);
	if (r->code == 250) {
		s->lmtp_ok++;
	} else {
		snprintf(who, sizeof who, " to <%s>", s->p.rcpts[i]);
		smtp_eod_reply_error(s, r, OUTCOME_RECIPIENT, who, e);
	}
	if (++s->lmtp_answered < s->accepted)
		return SMTP_WANT_REPLY;
	return smtp_eod_finish(s, e);
}

/* The reply to a chunk before the last: go on, or fail the message (the
 * server discards the transaction; RSET clears it, RFC 3030 2). */
static enum smtp_want smtp_on_bdat(struct smtp_session *s, size_t chunk,
				   const struct reply *r, struct err *e)
{
	s->chunks_unanswered--;
	if (s->chunk_refused)
		return SMTP_WANT_REPLY; /* in flight after the refusal */
	if (r->code / 100 == 2)
		return SMTP_WANT_CHUNK;
	s->chunk_refused = 1;
	smtp_set_error(s, e, OUTCOME_MESSAGE,
		       smtp_reject_code(r->code, ERR_UNAVAILABLE),
		       "the server refused chunk %zu of the message (BDAT): %s",
		       chunk, s->last_text);
	return smtp_txn_failed(s);
}

/* A chunk may go when the replies outstanding allow it: LAST only after
 * every earlier chunk is answered (its reply decides the message, and an
 * LMTP server answers it per recipient), others within the window. */
enum smtp_want smtp_bdat(struct smtp_session *s, size_t n, int last)
{
	size_t window = s->caps.pipelining ? SMTP_BDAT_WINDOW : 1;

	if (last ? s->chunks_unanswered > 0 : s->chunks_unanswered >= window)
		return SMTP_WANT_REPLY;
	smtp_cmdf(s, "BDAT %zu%s", n, last ? " LAST" : "");
	s->offered_last = last;
	return smtp_queued(s, SMTP_WANT_CHUNK_SEND);
}

enum smtp_want smtp_chunk_sent(struct smtp_session *s)
{
	size_t window = s->caps.pipelining ? SMTP_BDAT_WINDOW : 1;

	s->chunks_sent++;
	if (s->offered_last)
		return smtp_body_sent(s);
	smtp_expect(s, EXP_BDAT, s->chunks_sent);
	s->chunks_unanswered++;
	return s->chunks_unanswered < window ? SMTP_WANT_CHUNK
		: SMTP_WANT_REPLY;
}

static enum smtp_want smtp_on_starttls(struct smtp_session *s,
				       const struct reply *r, struct err *e)
{
	if (r->code == 220)
		return SMTP_WANT_TLS;
	smtp_send_quit(s);
	return smtp_fail(s, e, OUTCOME_SESSION,
			 r->code / 100 == 4 ? ERR_TEMPFAIL : ERR_PROTOCOL,
			 "the server refused STARTTLS: %s", s->last_text);
}

static enum smtp_want smtp_on_auth(struct smtp_session *s,
				   const struct reply *r, struct err *e)
{
	size_t len;
	const char *t;

	if (r->code == 334) {
		t = reply_line(r, 0, &len);
		buf_reset(&s->challenge);
		if (buf_append(&s->challenge, t, len) < 0)
			s->oom = 1;
		return SMTP_WANT_AUTH_STEP;
	}
	if (r->code / 100 == 2) {
		s->auth_done = 1;
		return smtp_after_caps(s, e);
	}
	/* a token the client believed valid: one more try with a fresh one */
	if (r->code / 100 == 5 && s->p.auth_retry && !s->auth_retried) {
		s->auth_retried = 1;
		return SMTP_WANT_AUTH_RETRY;
	}
	smtp_send_quit(s);
	if (r->code / 100 == 4)
		return smtp_fail(s, e, OUTCOME_SESSION, ERR_TEMPFAIL,
				 "authentication failed temporarily: %s",
				 s->last_text);
	if (!s->p.oauth && strcmp(r->enh, "5.7.139") == 0)
		return smtp_fail(s, e, OUTCOME_SESSION, ERR_NOPERM,
				 "authentication failed: %s (the provider has "
				 "turned password authentication off: use "
				 "OAuth2 - oauth2_provider microsoft, then msmtp "
				 "--oauth2-login)", s->last_text);
	return smtp_fail(s, e, OUTCOME_SESSION, ERR_NOPERM,
			 "authentication failed: %s", s->last_text);
}

enum smtp_want smtp_auth_begin(struct smtp_session *s, const char *mech,
			       const char *initial)
{
	struct buf line;
	size_t visible;

	buf_init(&line, s->out.max);
	if (buf_printf(&line, "AUTH %s", mech) < 0) {
		s->oom = 1;
		return smtp_queued(s, SMTP_WANT_REPLY);
	}
	visible = line.len + 1;
	if (initial != NULL
	    && buf_printf(&line, " %s", *initial ? initial : "=") < 0)
		s->oom = 1;
	else if (smtp_cmd(s, buf_str(&line), visible) == 0)
		smtp_expect(s, EXP_AUTH, 0);
	buf_free(&line);
	return smtp_queued(s, SMTP_WANT_REPLY);
}

const char *smtp_auth_challenge(const struct smtp_session *s)
{
	return buf_str(&s->challenge);
}

size_t smtp_reply_line_max(const struct smtp_session *s)
{
	return s->fifo_len > 0 && s->fifo[s->fifo_head].kind == EXP_AUTH
		? REPLY_AUTH_LINE_MAX : REPLY_LINE_MAX;
}

enum smtp_want smtp_auth_respond(struct smtp_session *s, const char *resp)
{
	if (smtp_cmd(s, resp, strcmp(resp, "*") == 0 ? 1 : 0) == 0)
		smtp_expect(s, EXP_AUTH, 0);
	return smtp_queued(s, SMTP_WANT_REPLY);
}

enum smtp_want smtp_next_message(struct smtp_session *s,
				 const struct smtp_params *m, struct err *e)
{
	struct smtp_rcpt_result *res;
	struct smtp_expect *fifo;
	size_t cap = m->nrcpts * 2 + 8;

	smtp_free_ascii(s);
	s->next_rcpt = s->accepted = s->refused = 0;
	s->lmtp_answered = s->lmtp_ok = 0;
	s->mail_code = 0;
	s->delivered = s->failed = s->eod_unclear = s->rcpt_needs_session = 0;
	s->decided_code = 0;
	s->scope = OUTCOME_SESSION;
	res = calloc(m->nrcpts + 1, sizeof *res);
	fifo = cap > s->fifo_cap ? calloc(cap, sizeof *fifo) : NULL;
	if (res == NULL || (cap > s->fifo_cap && fifo == NULL)) {
		free(res);
		free(fifo);
		/* no recipient results exist for this message */
		s->p.nrcpts = 0;
		s->p.rcpts = NULL;
		smtp_set_error(s, e, OUTCOME_SESSION, ERR_OSERR, "%s",
			       "out of memory");
		return SMTP_WANT_NEXT;
	}
	free(s->res);
	s->res = res;
	if (fifo != NULL) {     /* the FIFO is empty between messages */
		free(s->fifo);
		s->fifo = fifo;
		s->fifo_cap = cap;
		s->fifo_head = 0;
	}
	s->p.from = m->from;
	s->p.rcpts = m->rcpts;
	s->p.nrcpts = m->nrcpts;
	s->p.body_8bit = m->body_8bit;
	s->p.smtputf8 = m->smtputf8;
	s->p.size = m->size;
	s->p.dsn_notify = m->dsn_notify;
	s->p.dsn_return = m->dsn_return;
	s->p.partial_delivery = m->partial_delivery;
	if (smtp_message_fits(s, e) < 0)
		return SMTP_WANT_NEXT;
	smtp_send_transaction(s);
	if (s->oom) {
		smtp_set_error(s, e, OUTCOME_SESSION, ERR_OSERR, "%s",
			       "out of memory");
		return SMTP_WANT_ABORT;
	}
	return SMTP_WANT_REPLY;
}

enum smtp_want smtp_finish(struct smtp_session *s)
{
	s->failed = 0;
	smtp_send_quit(s);
	return s->fifo_len > 0 ? SMTP_WANT_REPLY : SMTP_WANT_DONE;
}

enum smtp_want smtp_quit_failed(struct smtp_session *s)
{
	s->failed = 1;
	smtp_send_quit(s);
	return s->fifo_len > 0 ? SMTP_WANT_REPLY : SMTP_WANT_FAIL;
}

enum smtp_want smtp_tls_done(struct smtp_session *s)
{
	s->tls_on = 1;
	memset(&s->caps, 0, sizeof s->caps);
	if (smtp_cmdf(s, "%s %s", s->p.lmtp ? "LHLO" : "EHLO",
		      s->p.helo_domain) == 0)
		smtp_expect(s, EXP_EHLO, 0);
	return smtp_queued(s, SMTP_WANT_REPLY);
}

enum smtp_want smtp_start(struct smtp_session *s)
{
	smtp_expect(s, EXP_GREETING, 0);
	return SMTP_WANT_REPLY;
}

enum smtp_want smtp_body_sent(struct smtp_session *s)
{
	size_t i;

	if (!s->p.lmtp) {
		smtp_expect(s, EXP_EOD, 0);
		return SMTP_WANT_REPLY;
	}
	for (i = 0; i < s->p.nrcpts; i++)
		if (s->res[i].code / 100 == 2)
			smtp_expect(s, EXP_EOD, i);
	return SMTP_WANT_REPLY;
}

enum smtp_want smtp_on_reply(struct smtp_session *s, const struct reply *r,
			     struct err *e)
{
	struct smtp_expect x;
	enum smtp_want w = SMTP_WANT_REPLY;

	if (s->fifo_len == 0)
		return smtp_fail(s, e, OUTCOME_SESSION, ERR_PROTOCOL,
				 "unexpected reply from the server");
	x = s->fifo[s->fifo_head];
	s->fifo_head = (s->fifo_head + 1) % s->fifo_cap;
	s->fifo_len--;
	/* the log reports the reply that decided the outcome, not the
	 * closing courtesy of RSET/QUIT */
	if (x.kind != EXP_QUIT && x.kind != EXP_RSET) {
		s->last_code = r->code;
		reply_oneline(r, s->last_text, sizeof s->last_text);
	}

	switch (x.kind) {
	case EXP_GREETING: w = smtp_on_greeting(s, r, e); break;
	case EXP_EHLO: w = smtp_on_ehlo(s, r, e); break;
	case EXP_HELO: w = smtp_on_helo(s, r, e); break;
	case EXP_MAIL: w = smtp_on_mail(s, r, e); break;
	case EXP_RCPT: w = smtp_on_rcpt(s, x.idx, r, e); break;
	case EXP_DATA: w = smtp_on_data(s, r, e); break;
	case EXP_EOD: w = smtp_on_eod(s, x.idx, r, e); break;
	case EXP_STARTTLS: w = smtp_on_starttls(s, r, e); break;
	case EXP_AUTH: w = smtp_on_auth(s, r, e); break;
	case EXP_BDAT: w = smtp_on_bdat(s, x.idx, r, e); break;
	case EXP_ETRN: w = smtp_on_etrn(s, r, e); break;
	case EXP_RSET:
		if (s->quit_after_rset) {
			s->quit_after_rset = 0;
			smtp_send_quit(s);
		}
		break;
	case EXP_EMPTY_EOD:
	case EXP_QUIT:
		break;
	}
	if (s->oom) {
		smtp_set_error(s, e, OUTCOME_SESSION, ERR_OSERR, "%s",
			       "out of memory");
		return SMTP_WANT_ABORT;
	}
	if (w != SMTP_WANT_REPLY)
		return w;
	if (s->fifo_len > 0)
		return SMTP_WANT_REPLY;
	if (s->txn_over) {
		s->txn_over = 0;
		return SMTP_WANT_NEXT;
	}
	return (s->failed || err_isset(e)) ? SMTP_WANT_FAIL : SMTP_WANT_DONE;
}

const char *smtp_stage(const struct smtp_session *s)
{
	static const char *names[] = {
		"greeting", "EHLO", "HELO", "MAIL FROM", "RCPT TO", "DATA",
		"end of data", "end of data", "RSET", "QUIT", "STARTTLS", "AUTH",
		"BDAT", "ETRN"
	};

	if (s->fifo_len == 0)
		return s->in_txn ? "message body" : "end of session";
	return names[s->fifo[s->fifo_head].kind];
}

size_t smtp_replies_owed(const struct smtp_session *s)
{
	/* every queued line registered exactly one expected reply */
	return s->fifo_len > s->nlines ? s->fifo_len - s->nlines : 0;
}

int smtp_awaiting_eod(const struct smtp_session *s)
{
	return s->fifo_len > 0 && s->fifo[s->fifo_head].kind == EXP_EOD;
}

int smtp_delivered(const struct smtp_session *s)
{
	return s->delivered;
}

int smtp_eod_unclear(const struct smtp_session *s)
{
	return s->eod_unclear;
}

enum outcome_scope smtp_failure_scope(const struct smtp_session *s)
{
	return s->scope;
}

const struct smtp_caps *smtp_caps(const struct smtp_session *s)
{
	return &s->caps;
}

const char *smtp_greeting(const struct smtp_session *s)
{
	return s->greeting;
}

int smtp_last_reply(const struct smtp_session *s, const char **text)
{
	if (s->decided_code) {
		*text = s->decided_text;
		return s->decided_code;
	}
	*text = s->last_text;
	return s->last_code;
}

const struct smtp_rcpt_result *smtp_rcpt(const struct smtp_session *s,
					 size_t i)
{
	return i < s->p.nrcpts ? &s->res[i] : NULL;
}
