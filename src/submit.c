/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "submit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "net.h"
#include "sasl.h"
#include "smtp.h"
#include "tls.h"

/* The body goes out in blocks of whole TLS records (the largest plaintext
 * a record carries, RFC 8446 5.1): only the last write of a message ends
 * in a partial record, whatever the block boundaries of the input. */
#define SUBMIT_RECORD (16 * 1024)
/* BDAT chunk size: large enough that the round trip a chunk may wait for
 * costs little, small enough to hold in memory once per session. */
#define SUBMIT_CHUNK (256 * 1024)
/* Longest TLS summary kept for --serverinfo */
#define SUBMIT_TLS_INFO_MAX 4095

struct submit_io {
	struct gate *gate;
	struct net_conn *conn;
	struct submit_info *info;
	struct msg *msg;                /* the message being sent */
	const struct submit_batch *batch; /* NULL: one message */
	int has_cur;                    /* batch: a message is in flight */
	struct submit_msg cur;          /* batch: that message */
	/* ... its outcome, made before it goes, so a message the server
	 * took is always reported so.  On the heap, batches only: 2.7 KB
	 * that one message's send would carry on its deepest stack path. */
	struct outcome *cur_o;
	struct sasl_session *sasl;
	struct sasl_creds creds;
	unsigned char *cb_data;
	struct smtp_session *smtp;
	struct reply_reader rr;
	struct reply reply;
	struct msg_bdat bdat;           /* BDAT reader of the current message */
	int bdat_on;                    /* ... started */
	char *chunk;                    /* SUBMIT_CHUNK bytes, once a session */
	size_t chunk_len;
	int chunk_last;
	int chunk_ready;                /* read and offered, not yet sent */
	int tls_record_seen;            /* the greeting began as a TLS record */
	int describe_tls;               /* --serverinfo prints the session */
};

/* Log each queued engine line, then write the whole batch at once. */
static int submit_flush(struct submit_io *io, struct err *e)
{
	const struct buf *out = smtp_out(io->smtp);
	size_t i, n = smtp_out_lines(io->smtp);
	int r = 0;

	for (i = 0; i < n; i++) {
		size_t off, len, redact;

		smtp_out_line(io->smtp, i, &off, &len, &redact);
		log_wire(LOG_CLIENT, out->data + off, len, redact);
	}
	if (out->len > 0)
		r = net_write_all(io->conn, out->data, out->len, e);
	smtp_out_clear(io->smtp);
	return r;
}

static void submit_log_reply(const struct reply *r)
{
	const char *p = buf_str(&r->text);
	const char *end = p + r->text.len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		log_wire(LOG_SERVER, p, len, len);
		p += len + 1;
	}
}

/* Turn a failed read/write into the error that names the stage. */
static int submit_lost(struct submit_io *io, const struct err *neterr,
		       int eof, struct err *e)
{
	const char *why = eof ? "the server closed the connection"
		: neterr->msg;

	if (smtp_awaiting_eod(io->smtp))
		return err_set(e, ERR_TEMPFAIL,
			       "%s while waiting for the reply to the end of "
			       "data; the message may have been delivered", why);
	return err_set(e, ERR_TEMPFAIL, "%s while waiting for the %s%s", why,
		       strcmp(smtp_stage(io->smtp), "greeting") == 0
		       ? "" : "reply to ", smtp_stage(io->smtp));
}

/* A malformed reply to the end of data still came after the whole
 * message: say that it may have been delivered (class maybe-delivered). */
static int submit_bad_reply(struct submit_io *io, const struct err *pe,
			    struct err *e)
{
	if (smtp_awaiting_eod(io->smtp))
		return err_set(e, pe->code, "%s after the end of data; the "
			       "message may have been delivered", pe->msg);
	return err_set(e, pe->code, "%s", pe->msg);
}

/* The wrong TLS mode shows at the greeting: a server that wants TLS
 * from the first byte (port 465, RFC 8314) stays silent, waiting for our
 * handshake, or answers with a TLS record.  Said for a TLS record
 * whatever the port, for silence only on 465 (elsewhere a silent server
 * is just that). */
static void submit_hint_implicit(struct submit_io *io, int silent,
				 struct err *e)
{
	const struct account *a = io->gate->acct;

	if (io->gate->tls == GATE_TLS_IMPLICIT || a->socket != NULL
	    || strcmp(smtp_stage(io->smtp), "greeting") != 0
	    || (silent ? a->port != 465 : !io->tls_record_seen))
		return;
	err_hint(e, "port %d expects TLS from the start: %s", a->port,
		 io->gate->tls == GATE_TLS_NONE
		 ? "set tls on and tls_starttls off" : "set tls_starttls off");
}

/* A TLS record header: content type alert (21) or handshake (22), then
 * major version 3. */
static void submit_note_tls_record(struct submit_io *io, const char *p,
				   size_t n)
{
	if (n >= 2 && (p[0] == 0x15 || p[0] == 0x16) && p[1] == 0x03)
		io->tls_record_seen = 1;
}

/* One reply, read in small blocks (replies are short; a long one takes a
 * few reads).  The frame stays under a page: with stack clash protection
 * every page of a frame is touched, and this is the deepest frame of a
 * send (each new stack page is a page fault). */
static int submit_read_reply(struct submit_io *io, struct err *e)
{
	char rbuf[2048];
	struct err pe;                  /* of the reply, or of the network */
	size_t got = 0;
	int r, lost = 0;

	/* AUTH challenges may be long (REPLY_AUTH_LINE_MAX), other lines not */
	reply_reader_set_line_max(&io->rr, smtp_reply_line_max(io->smtp));
	net_deadline_start(io->conn);   /* `timeout` bounds the whole reply */
	err_init(&pe);
	while ((r = reply_take(&io->rr, &io->reply, &pe)) == 0) {
		ssize_t n = net_read(io->conn, rbuf, sizeof rbuf, &pe);

		if (n <= 0) {
			r = submit_lost(io, &pe, n == 0, e);
			submit_hint_implicit(io, got == 0, e);
			lost = 1;
			break;
		}
		if (got == 0)
			submit_note_tls_record(io, rbuf, (size_t)n);
		got += (size_t)n;
		if (reply_feed(&io->rr, rbuf, (size_t)n, &pe) < 0) {
			r = -1;
			break;
		}
	}
	net_deadline_stop(io->conn);
	if (r < 0 && !lost && err_isset(&pe)) {
		submit_bad_reply(io, &pe, e);
		submit_hint_implicit(io, 0, e);
	}
	if (r < 0)
		return -1;
	submit_log_reply(&io->reply);
	return 0;
}

/* Bytes waiting unread on a plain connection.  Under TLS the socket
 * also carries records that are no data (session tickets, key updates),
 * so only what was already read counts there. */
static int submit_raw_pending(struct submit_io *io)
{
	return !io->info->tls_used && net_pending(io->conn);
}

/* Bytes from the server while the body goes out.  Some servers refuse a
 * message before its end (552 for a size they will not take, then they
 * close): a whole 4xx or 5xx reply is quoted and decides the class (75 or
 * 69).  Anything else answers no command: a protocol error.  Either way
 * the final dot is never sent. */
static int submit_early_reply(struct submit_io *io, struct err *e)
{
	char shown[512];
	struct err re;

	err_init(&re);
	if (submit_read_reply(io, &re) == 0 && io->reply.code >= 400) {
		reply_oneline(&io->reply, shown, sizeof shown);
		return err_set(e, io->reply.code < 500 ? ERR_TEMPFAIL
			       : ERR_UNAVAILABLE, "the server refused the "
			       "message before its end: %s", shown);
	}
	return err_set(e, ERR_PROTOCOL, "the server sent data while the "
		       "message was being sent; aborting before the end of "
		       "data");
}

/* While the body goes out the server owes nothing: a reply now answers
 * no command.  Checked before each block, so the final dot is never sent
 * after one.  Unless `all`, only whole records go and the rest moves to
 * the front of out for the next block. */
static int submit_body_write(struct submit_io *io, struct buf *out, int all,
			     struct err *e)
{
	size_t n = all ? out->len : out->len - out->len % SUBMIT_RECORD;

	if (submit_raw_pending(io))
		return submit_early_reply(io, e);
	if (n > 0 && net_write_all(io->conn, out->data, n, e) < 0)
		return -1;
	/* the body is no secret: moved down without buf_consume's wipe */
	if (n < out->len)
		memmove(out->data, out->data + n, out->len - n);
	out->len -= n;
	if (out->data != NULL)
		out->data[out->len] = '\0';
	return 0;
}

/* The input block for the DATA encoder: MSG_CHUNK, or the whole message
 * when it is smaller (then it comes from heap pages already in use, not
 * a fresh page of a static array). */
static char *submit_body_block(const struct msg *m, size_t *len)
{
	static char big[MSG_CHUNK];
	uint64_t left = msg_stream_left(m);
	char *p;

	*len = MSG_CHUNK;
	if (left >= MSG_CHUNK / 2 || (p = malloc((size_t)left + 1)) == NULL)
		return big;
	*len = (size_t)left + 1;
	return p;
}

/* Stream the message through the DATA encoder in MSG_CHUNK blocks, one
 * write each; the final dot goes out with the last block. */
static int submit_body(struct submit_io *io, struct msg *m, struct err *e)
{
	struct msg_enc enc;
	struct buf out;
	char *in = NULL;
	size_t inlen = 0;
	ssize_t n;
	int r = -1;

	buf_init(&out, 2 * MSG_CHUNK + SUBMIT_RECORD + 16);
	msg_enc_init(&enc);
	if (msg_stream_rewind(m, e) < 0)
		goto done;
	in = submit_body_block(m, &inlen);
	while ((n = msg_stream_read(m, in, inlen, e)) > 0) {
		if (msg_enc_feed(&enc, in, (size_t)n, &out) < 0) {
			err_set(e, ERR_OSERR, "out of memory");
			goto done;
		}
		if (msg_stream_left(m) == 0)
			break;
		if (submit_body_write(io, &out, 0, e) < 0)
			goto done;
	}
	if (n < 0)
		goto done;
	if (msg_enc_finish(&enc, &out) < 0) {
		err_set(e, ERR_OSERR, "out of memory");
		goto done;
	}
	log_debug("--> (message body, %llu bytes)",
		  (unsigned long long)msg_wire_size(m));
	log_wire(LOG_CLIENT, ".", 1, 1);
	if (submit_body_write(io, &out, 1, e) < 0)
		goto done;
	r = 0;
done:
	if (inlen < MSG_CHUNK)
		free(in);
	buf_free(&out);
	return r;
}

/* Nothing may follow a reply the server must wait after: bytes behind
 * its 220 to STARTTLS would be read as replies inside TLS (the STARTTLS
 * response injection attack, CVE-2011-0411 class); bytes behind its 354
 * to DATA, or behind the replies before BDAT LAST (none is outstanding
 * then), would be taken as replies to the message.  `what` completes
 * "the server sent data ...". */
static int submit_nothing_pending(struct submit_io *io, const char *what,
				  struct err *e)
{
	if (reply_pending(&io->rr) == 0 && !net_pending(io->conn))
		return 0;
	return err_set(e, ERR_PROTOCOL, "the server sent data %s", what);
}

/* Bytes that arrive when the server owes no reply answer nothing: read
 * as replies they would shift every later one onto the wrong command.
 * Refused before the client writes anything more; once the message was
 * accepted they no longer matter. */
static int submit_unsolicited(struct submit_io *io, struct err *e)
{
	if (smtp_delivered(io->smtp) || smtp_replies_owed(io->smtp) > 0
	    || (reply_pending(&io->rr) == 0 && !submit_raw_pending(io)))
		return 0;
	return err_set(e, ERR_PROTOCOL, "the server sent data nobody asked "
		       "for (a reply to no command); ending the session");
}

/* BDAT: have the next chunk of the message ready (read once, kept until
 * the engine lets it go). */
static int submit_chunk_read(struct submit_io *io, struct err *e)
{
	ssize_t n;

	if (io->chunk_ready)
		return 0;
	if (io->chunk == NULL && (io->chunk = malloc(SUBMIT_CHUNK)) == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	if (!io->bdat_on) {
		if (msg_bdat_start(&io->bdat, io->msg, e) < 0) {
			msg_bdat_free(&io->bdat);
			return -1;
		}
		io->bdat_on = 1;
	}
	n = msg_bdat_read(&io->bdat, io->chunk, SUBMIT_CHUNK, &io->chunk_last,
			  e);
	if (n < 0)
		return -1;
	io->chunk_len = (size_t)n;
	io->chunk_ready = 1;
	return 0;
}

/* The current message is over (or another comes): drop its BDAT state. */
static void submit_chunk_reset(struct submit_io *io)
{
	if (io->bdat_on)
		msg_bdat_free(&io->bdat);
	io->bdat_on = 0;
	io->chunk_ready = 0;
}

/* BDAT: the command line the engine queued, then the chunk's bytes. */
static int submit_chunk_send(struct submit_io *io, struct err *e)
{
	if (io->chunk_last
	    && submit_nothing_pending(io, "nobody asked for before the last "
				      "chunk (BDAT LAST); aborting before "
				      "it", e) < 0)
		return -1;
	if (submit_flush(io, e) < 0)
		return -1;
	log_debug("--> (%zu bytes of the message)", io->chunk_len);
	if (io->chunk_len > 0
	    && net_write_all(io->conn, io->chunk, io->chunk_len, e) < 0)
		return -1;
	io->chunk_ready = 0;
	if (io->chunk_last)
		submit_chunk_reset(io);
	return 0;
}

/* TLS on the open connection (implicit, or after STARTTLS's 220). */
static int submit_tls(struct submit_io *io, struct err *e)
{
	struct submit_info *info = io->info;
	struct buf ti;

	if (io->gate->tls == GATE_TLS_STARTTLS
	    && submit_nothing_pending(io, "after its 220 reply to STARTTLS "
				      "(possible STARTTLS response injection); "
				      "aborting before the TLS handshake", e) < 0)
		return -1;
	log_debug("starting TLS with %s",
		  io->gate->tlsp.host ? io->gate->tlsp.host : "");
	if (tls_start(io->conn, &io->gate->tlsp, e) < 0) {
		/* implicit TLS to a server that greets in plain text */
		if (io->gate->tls == GATE_TLS_IMPLICIT
		    && tls_peer_spoke_plain(io->conn))
			err_hint(e, "this server starts in plain text: set "
				 "tls_starttls on (port 587 or 25)");
		return -1;
	}
	info->tls_used = 1;
	/* the summary parses the certificate again: only for the eyes of
	 * --serverinfo and --debug */
	if (!io->describe_tls && !log_debugging())
		return 0;
	buf_init(&ti, SUBMIT_TLS_INFO_MAX);
	tls_describe(io->conn, &ti);
	if (ti.len > 0)
		log_debug("%.*s", (int)(ti.len - 1), ti.data);
	free(info->tls_info);
	info->tls_info = buf_steal(&ti);        /* NULL: not shown */
	return 0;
}

/* WANT_AUTH: choose the mechanism from what the server offers and send
 * AUTH with the initial response when the mechanism has one. */
static enum smtp_want submit_auth_begin(struct submit_io *io, struct err *e)
{
	const struct smtp_caps *caps = smtp_caps(io->smtp);
	const struct gate *g = io->gate;
	char mech[32], *ir = NULL;
	int exporter = 0, cb = 0;
	enum smtp_want w;

	if (io->cb_data == NULL)
		cb = tls_channel_binding(io->conn, &exporter, &io->cb_data,
					 &io->creds.cb_len);
	if (cb < 0) {
		err_set(e, ERR_OSERR, "out of memory");
		return smtp_quit_failed(io->smtp);
	}
	if (cb > 0) {
		io->creds.cb_type = exporter ? SASL_CB_TLS_EXPORTER
			: SASL_CB_TLS_UNIQUE;
		io->creds.cb_data = io->cb_data;
	}
	io->creds.user = g->user;
	io->creds.password = g->password;
	io->creds.host = g->acct->host;
	io->creds.port = g->acct->port;
	if (sasl_choose(g->auth, caps->auth_mechs, io->cb_data != NULL, mech,
			sizeof mech, e) < 0)
		return smtp_quit_failed(io->smtp);
	log_debug("authenticating with %s", mech);
	io->sasl = sasl_start(mech, &io->creds, e);
	if (io->sasl == NULL || sasl_initial(io->sasl, &ir, e) < 0)
		return smtp_quit_failed(io->smtp);
	w = smtp_auth_begin(io->smtp, mech, ir);
	sasl_free_response(ir);
	return w;
}

/* WANT_AUTH_STEP: answer a challenge; a local failure cancels with "*"
 * (RFC 4954 4) and keeps its own, more precise error. */
static enum smtp_want submit_auth_step(struct submit_io *io, struct err *e)
{
	char *resp = NULL;
	enum smtp_want w;

	if (io->sasl == NULL
	    || sasl_step(io->sasl, smtp_auth_challenge(io->smtp), &resp, e) < 0)
		return smtp_auth_respond(io->smtp, "*");
	w = smtp_auth_respond(io->smtp, resp);
	sasl_free_response(resp);
	return w;
}

/* WANT_AUTH_RETRY: the server refused an OAuth2 token that looked
 * valid; start AUTH again with a fresh token, once. */
static enum smtp_want submit_auth_retry(struct submit_io *io, struct err *e)
{
	sasl_end(io->sasl);
	io->sasl = NULL;
	if (gate_refresh_token(io->gate, e) < 0)
		return smtp_quit_failed(io->smtp);
	return submit_auth_begin(io, e);
}

/* The message's part of the engine parameters (one place decides DSN,
 * partial delivery, 8BITMIME, SIZE and SMTPUTF8 needs). */
static void submit_msg_params(const struct account *a,
			      const struct submit_msg *m,
			      struct smtp_params *sp)
{
	size_t i;

	sp->from = m->from ? m->from : "";
	sp->rcpts = m->rcpts;
	sp->nrcpts = m->nrcpts;
	sp->partial_delivery = a->partial_delivery == CONF_ON
		|| m->force_partial;
	sp->dsn_notify = a->dsn_notify && strcmp(a->dsn_notify, "off") != 0
		? a->dsn_notify : NULL;
	sp->dsn_return = a->dsn_return && strcmp(a->dsn_return, "off") != 0
		? a->dsn_return : NULL;
	sp->body_8bit = m->msg ? msg_is_8bit(m->msg) : 0;
	sp->size = m->msg ? msg_wire_size(m->msg) : 0;
	sp->smtputf8 = addr_is_8bit(sp->from);
	for (i = 0; i < m->nrcpts; i++)
		if (addr_is_8bit(m->rcpts[i]))
			sp->smtputf8 = 1;
}

/* The session's part of the engine parameters. */
static void submit_session_params(const struct submit_io *io,
				  struct smtp_params *sp)
{
	const struct account *a = io->gate->acct;

	sp->lmtp = a->protocol == CONF_PROTO_LMTP;
	sp->helo_domain = a->domain ? a->domain : "localhost";
	sp->starttls = io->gate->tls == GATE_TLS_STARTTLS;
	sp->auth = io->gate->auth != NULL;
	sp->oauth = io->gate->oauth;
	/* a token we believed valid may have been revoked: one retry */
	sp->auth_retry = io->gate->oauth && !io->gate->token_fresh;
	sp->multi = io->batch != NULL;
	sp->chunking = a->chunking != CONF_OFF;
}

/* The outcome of the engine's current (or last) message, from what the
 * engine saw and the error that ended it (NULL or unset: none). */
static void submit_settle(struct submit_io *io, const struct submit_msg *m,
			  const struct err *e, struct outcome *o)
{
	struct outcome_facts f;
	const char *text;
	size_t i;

	for (i = 0; i < o->nrcpts; i++) {
		const struct smtp_rcpt_result *rr = smtp_rcpt(io->smtp, i);

		if (rr == NULL)
			continue;
		o->rcpt[i].code = rr->code;
		o->rcpt[i].final_code = rr->lmtp_code;
		snprintf(o->rcpt[i].text, sizeof o->rcpt[i].text, "%s", rr->text);
	}
	memset(&f, 0, sizeof f);
	f.err = e;
	f.scope = smtp_failure_scope(io->smtp);
	f.lmtp = io->gate->acct->protocol == CONF_PROTO_LMTP;
	f.delivered = smtp_delivered(io->smtp);
	f.maybe_delivered = smtp_awaiting_eod(io->smtp)
		|| smtp_eod_unclear(io->smtp);
	outcome_settle(o, &f);
	o->smtp_code = smtp_last_reply(io->smtp, &text);
	snprintf(o->smtp_text, sizeof o->smtp_text, "%s", text);
	o->connected = 1;
	o->tls_used = io->info->tls_used;
	snprintf(o->peer, sizeof o->peer, "%s", io->info->peer);
	o->size = m->msg ? msg_wire_size(m->msg) : 0;
}

/* Batch: hand the finished message's outcome to the caller. */
static void submit_report_current(struct submit_io *io, const struct err *e)
{
	io->has_cur = 0;
	submit_settle(io, &io->cur, e, io->cur_o);
	io->batch->done(io->batch->ctx, io->cur_o);
	outcome_free(io->cur_o);
}

/* Batch: a message that cannot even start (no memory for its outcome):
 * reported as a session failure without recipients, so it stays queued
 * as it is; the session ends with the error. */
static enum smtp_want submit_cannot_start(struct submit_io *io,
					  struct err *e)
{
	struct outcome o;

	memset(&o, 0, sizeof o);
	outcome_session_failure(&o, e);
	io->batch->done(io->batch->ctx, &o);
	return smtp_quit_failed(io->smtp);
}

/* WANT_NEXT: report the message just finished, then hand the engine the
 * next one or end the session. */
static enum smtp_want submit_batch_next(struct submit_io *io, struct err *e)
{
	struct smtp_params sp;

	if (io->has_cur)
		submit_report_current(io, err_isset(e) ? e : NULL);
	err_init(e);
	/* every expected reply has been read: anything more would be taken
	 * as replies to the next message's commands */
	if (reply_pending(&io->rr) > 0) {
		err_set(e, ERR_PROTOCOL, "the server sent data nobody asked for "
			"after the end of a transaction; ending the session");
		return smtp_quit_failed(io->smtp);
	}
	submit_chunk_reset(io);
	memset(&io->cur, 0, sizeof io->cur);
	if (!io->batch->next(io->batch->ctx, &io->cur))
		return smtp_finish(io->smtp);
	if (outcome_init(io->cur_o, io->cur.nrcpts, e) < 0)
		return submit_cannot_start(io, e);
	memset(&sp, 0, sizeof sp);
	submit_msg_params(io->gate->acct, &io->cur, &sp);
	io->msg = io->cur.msg;
	io->has_cur = 1;
	return smtp_next_message(io->smtp, &sp, e);
}

/* Run the engine until it is done, writing and reading as it asks. */
/* Send what the engine queued (QUIT after a failure) when the failure is
 * already told: a write error now adds nothing.  Out of line, so its
 * struct err is not in submit_pump's frame, the deepest of a send. */
static void submit_flush_quietly(struct submit_io *io)
	__attribute__((noinline));
static void submit_flush_quietly(struct submit_io *io)
{
	struct err ignored;

	err_init(&ignored);
	submit_flush(io, &ignored);
}

static int submit_pump(struct submit_io *io, struct err *e)
{
	enum smtp_want w;

	if (io->gate->tls == GATE_TLS_IMPLICIT && submit_tls(io, e) < 0)
		return -1;
	w = smtp_start(io->smtp);

	for (;;) {
		if ((w == SMTP_WANT_REPLY || w == SMTP_WANT_AUTH
		     || w == SMTP_WANT_AUTH_STEP)
		    && submit_unsolicited(io, e) < 0)
			return -1;
		switch (w) {
		case SMTP_WANT_REPLY: {
			struct err le;

			err_init(&le);
			if (submit_flush(io, &le) < 0
			    || submit_read_reply(io, &le) < 0) {
				/* only the QUIT reply was missing: delivered */
				if (smtp_delivered(io->smtp) && !err_isset(e)
				    && !io->has_cur)
					return 0;
				err_set(e, le.code, "%s", le.msg);
				err_hint_copy(e, &le);
				return -1;
			}
			w = smtp_on_reply(io->smtp, &io->reply, e);
			break;
		}
		case SMTP_WANT_BODY:
			if (submit_nothing_pending(io, "after its 354 reply to "
						   "DATA; aborting before sending "
						   "the message", e) < 0)
				return -1;
			if (submit_flush(io, e) < 0
			    || submit_body(io, io->msg, e) < 0)
				return -1;
			w = smtp_body_sent(io->smtp);
			break;
		case SMTP_WANT_DONE:
			submit_flush(io, e);
			return 0;
		case SMTP_WANT_FAIL:
			submit_flush_quietly(io);
			return -1;
		case SMTP_WANT_ABORT:
			if (!err_isset(e))      /* no room for a command */
				err_set(e, ERR_OSERR, "out of memory");
			return -1;
		case SMTP_WANT_AUTH:
			if (submit_flush(io, e) < 0)
				return -1;
			w = submit_auth_begin(io, e);
			break;
		case SMTP_WANT_AUTH_STEP:
			if (submit_flush(io, e) < 0)
				return -1;
			w = submit_auth_step(io, e);
			break;
		case SMTP_WANT_AUTH_RETRY:
			if (submit_flush(io, e) < 0)
				return -1;
			w = submit_auth_retry(io, e);
			break;
		case SMTP_WANT_NEXT:
			if (submit_flush(io, e) < 0)
				return -1;
			w = submit_batch_next(io, e);
			break;
		case SMTP_WANT_TLS:
			if (submit_flush(io, e) < 0 || submit_tls(io, e) < 0)
				return -1;
			w = smtp_tls_done(io->smtp);
			break;
		case SMTP_WANT_CHUNK:
			/* before LAST submit_chunk_send has its own check */
			if (submit_chunk_read(io, e) < 0
			    || (!io->chunk_last && submit_unsolicited(io, e) < 0))
				return -1;
			w = smtp_bdat(io->smtp, io->chunk_len, io->chunk_last);
			break;
		case SMTP_WANT_CHUNK_SEND:
			if (submit_chunk_send(io, e) < 0)
				return -1;
			w = smtp_chunk_sent(io->smtp);
			break;
		}
	}
}

/* Release everything a session held. */
static void submit_io_free(struct submit_io *io)
{
	if (io->cur_o != NULL)
		outcome_free(io->cur_o);
	free(io->cur_o);
	submit_chunk_reset(io);
	free(io->chunk);
	sasl_end(io->sasl);
	if (io->cb_data)
		buf_wipe(io->cb_data, io->creds.cb_len);
	free(io->cb_data);
	reply_free(&io->reply);
	reply_reader_free(&io->rr);
	smtp_free(io->smtp);
	net_close(io->conn);
}

/* Connect through the gate and run one session with the engine made from
 * sp.  -1 with err when the session failed; io->smtp stays for the
 * caller to read (NULL when it never started). */
static int submit_session(struct submit_io *io, struct smtp_params *sp,
			  struct err *e)
{
	struct submit_info *info = io->info;

	submit_info_free(info);
	if (gate_connect(io->gate, &io->conn, e) < 0)
		return -1;
	info->connected = 1;
	snprintf(info->peer, sizeof info->peer, "%s", io->conn->peer);
	submit_session_params(io, sp);
	io->smtp = smtp_new(sp, e);
	if (io->smtp == NULL)
		return -1;
	reply_reader_init(&io->rr);
	reply_init(&io->reply);
	return submit_pump(io, e);
}

void submit_info_free(struct submit_info *info)
{
	free(info->tls_info);
	memset(info, 0, sizeof *info);
}

/* What the session learnt about the server (after the pump). */
static void submit_info_fill(struct submit_io *io)
{
	if (io->smtp == NULL)
		return;
	snprintf(io->info->greeting, sizeof io->info->greeting, "%s",
		 smtp_greeting(io->smtp));
	io->info->caps = *smtp_caps(io->smtp);
}

int submit_message(struct gate *g, const struct submit_msg *m,
		   struct outcome *o, struct submit_info *info)
{
	struct submit_io io;
	struct smtp_params sp;
	struct err e;
	int r;

	err_init(&e);
	memset(&io, 0, sizeof io);
	memset(&sp, 0, sizeof sp);
	io.gate = g;
	io.info = info;
	io.msg = m->msg;
	if (outcome_init(o, m->nrcpts, &e) < 0) {
		o->rcpt = NULL;
		outcome_session_failure(o, &e);
		return -1;
	}
	submit_msg_params(g->acct, m, &sp);
	r = submit_session(&io, &sp, &e);
	if (io.smtp == NULL) {
		outcome_session_failure(o, &e);
		o->connected = info->connected;
		snprintf(o->peer, sizeof o->peer, "%s", info->peer);
		o->size = m->msg ? msg_wire_size(m->msg) : 0;
	} else {
		submit_settle(&io, m, r < 0 ? &e : NULL, o);
	}
	submit_info_fill(&io);
	submit_io_free(&io);
	return outcome_delivered(o) ? 0 : -1;
}

/* A session without a message of its own: -S (serverinfo), or a batch. */
static int submit_bare_session(struct gate *g, const struct submit_batch *b,
			       const char *etrn, struct submit_info *info,
			       struct err *e)
{
	struct submit_io io;
	struct smtp_params sp;
	int r;

	memset(&io, 0, sizeof io);
	memset(&sp, 0, sizeof sp);
	io.gate = g;
	io.info = info;
	io.batch = b;
	if (b != NULL && (io.cur_o = calloc(1, sizeof *io.cur_o)) == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	sp.from = "";
	sp.serverinfo = b == NULL && etrn == NULL;
	io.describe_tls = sp.serverinfo;
	sp.etrn = etrn;
	r = submit_session(&io, &sp, e);
	if (io.has_cur)         /* the session died under a message */
		submit_report_current(&io, e);
	submit_info_fill(&io);
	submit_io_free(&io);
	return r;
}

int submit_probe(struct gate *g, struct submit_info *info, struct err *e)
{
	return submit_bare_session(g, NULL, NULL, info, e);
}

int submit_etrn(struct gate *g, const char *arg, struct submit_info *info,
		struct err *e)
{
	return submit_bare_session(g, NULL, arg, info, e);
}

int submit_batch_run(struct gate *g, const struct submit_batch *b,
		     struct submit_info *info, struct err *e)
{
	return submit_bare_session(g, b, NULL, info, e);
}
