#include "config.h"
#include "submit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "net.h"
#include "sasl.h"
#include "smtp.h"

/* Write threshold for the body: the encoded body is handed to the kernel
 * in blocks of about this size. */
#define SUBMIT_WBLOCK (64 * 1024)

struct submit_io {
	struct net_conn *conn;
	struct msg *msg;                /* the message being sent */
	const struct submit_batch *batch; /* NULL: one message */
	int has_cur;                    /* batch: a message is in flight */
	size_t cur_nrcpts;
	struct sasl_session *sasl;
	struct sasl_creds creds;
	unsigned char *cb_data;
	struct smtp_session *smtp;
	struct reply_reader rr;
	struct reply reply;
	int timeout;
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

static int submit_read_reply(struct submit_io *io, struct err *e)
{
	char rbuf[4096];
	int r;

	net_deadline_start(io->conn);   /* `timeout` bounds the whole reply */
	while ((r = reply_take(&io->rr, &io->reply, e)) == 0) {
		struct err ne;
		ssize_t n;

		err_init(&ne);
		n = net_read(io->conn, rbuf, sizeof rbuf, &ne);
		if (n <= 0)
			r = submit_lost(io, &ne, n == 0, e);
		else if (reply_feed(&io->rr, rbuf, (size_t)n, e) < 0)
			r = -1;
		if (r < 0)
			break;
	}
	net_deadline_stop(io->conn);
	if (r < 0)
		return -1;
	submit_log_reply(&io->reply);
	return 0;
}

/* Stream the message through the DATA encoder; the final dot goes out
 * with the last block. */
static int submit_body(struct submit_io *io, struct msg *m, struct err *e)
{
	static char in[MSG_CHUNK];
	struct msg_enc enc;
	struct buf out;
	ssize_t n;
	int r = -1;

	buf_init(&out, SUBMIT_WBLOCK + 3 * MSG_CHUNK);
	msg_enc_init(&enc);
	if (msg_stream_rewind(m, e) < 0)
		goto done;
	while ((n = msg_stream_read(m, in, sizeof in, e)) > 0) {
		if (msg_enc_feed(&enc, in, (size_t)n, &out) < 0) {
			err_set(e, ERR_OSERR, "out of memory");
			goto done;
		}
		if (out.len >= SUBMIT_WBLOCK) {
			if (net_write_all(io->conn, out.data, out.len, e) < 0)
				goto done;
			buf_reset(&out);
		}
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
	if (net_write_all(io->conn, out.data, out.len, e) < 0)
		goto done;
	r = 0;
done:
	buf_free(&out);
	return r;
}

/* TLS on the open connection; for STARTTLS, after checking that the
 * server sent nothing beyond its 220: such bytes were written before the
 * handshake and would be taken as replies inside the TLS session (the
 * STARTTLS response injection attack, CVE-2011-0411 class). */
static int submit_tls(struct submit_io *io, const struct submit_params *p,
		      struct submit_result *res, struct err *e)
{
	struct buf info;

	if (p->tls == 1 && (reply_pending(&io->rr) > 0 || net_pending(io->conn)))
		return err_set(e, ERR_PROTOCOL,
			       "the server sent data after its 220 reply to "
			       "STARTTLS (possible STARTTLS response injection); "
			       "aborting before the TLS handshake");
	log_debug("starting TLS with %s", p->tlsp.host ? p->tlsp.host : "");
	if (tls_start(io->conn, &p->tlsp, e) < 0)
		return -1;
	res->tls_used = 1;
	buf_init(&info, sizeof res->tls_info - 1);
	tls_describe(io->conn, &info);
	snprintf(res->tls_info, sizeof res->tls_info, "%s", buf_str(&info));
	if (info.len > 0)
		log_debug("%.*s", (int)(info.len - 1), info.data);
	buf_free(&info);
	return 0;
}

/* WANT_AUTH: choose the mechanism from what the server offers and send
 * AUTH with the initial response when the mechanism has one. */
static enum smtp_want submit_auth_begin(struct submit_io *io,
					const struct submit_params *p,
					struct err *e)
{
	const struct smtp_caps *caps = smtp_caps(io->smtp);
	char mech[32], *ir = NULL;
	int exporter = 0;
	enum smtp_want w;

	if (tls_channel_binding(io->conn, &exporter, &io->cb_data,
				&io->creds.cb_len)) {
		io->creds.cb_type = exporter ? SASL_CB_TLS_EXPORTER
			: SASL_CB_TLS_UNIQUE;
		io->creds.cb_data = io->cb_data;
	}
	io->creds.user = p->user;
	io->creds.password = p->password;
	io->creds.host = p->acct->host;
	io->creds.port = p->acct->port;
	if (sasl_choose(p->auth, caps->auth_mechs, io->cb_data != NULL, mech,
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

static int submit_connect(const struct account *a, struct net_conn **c,
			  struct err *e)
{
	if (a->socket && *a->socket) {
		log_debug("connecting to socket %s", a->socket);
		return net_connect_unix(a->socket, a->timeout, c, e);
	}
	log_debug("connecting to %s, port %d", a->host, a->port);
	return net_connect(a->host, a->port, a->source_ip, a->timeout, c, e);
}

/* Message fields of the engine parameters. */
static void submit_msg_params(const struct account *a, const char *from,
			      char *const *rcpts, size_t nrcpts, struct msg *m,
			      int force_partial, struct smtp_params *sp)
{
	size_t i;

	sp->from = from ? from : "";
	sp->rcpts = rcpts;
	sp->nrcpts = nrcpts;
	sp->partial_delivery = a->partial_delivery == CONF_ON || force_partial;
	sp->dsn_notify = a->dsn_notify && strcmp(a->dsn_notify, "off") != 0
		? a->dsn_notify : NULL;
	sp->dsn_return = a->dsn_return && strcmp(a->dsn_return, "off") != 0
		? a->dsn_return : NULL;
	sp->body_8bit = m ? msg_is_8bit(m) : 0;
	sp->size = m ? msg_wire_size(m) : 0;
	sp->smtputf8 = addr_is_8bit(sp->from);
	for (i = 0; i < nrcpts; i++)
		if (addr_is_8bit(rcpts[i]))
			sp->smtputf8 = 1;
}

static void submit_params_for_engine(const struct submit_params *p,
				     struct smtp_params *sp)
{
	const struct account *a = p->acct;
	size_t i;

	memset(sp, 0, sizeof *sp);
	sp->lmtp = a->protocol == CONF_PROTO_LMTP;
	sp->helo_domain = a->domain ? a->domain : "localhost";
	sp->from = p->from ? p->from : "";
	sp->rcpts = p->rcpts;
	sp->nrcpts = p->nrcpts;
	sp->serverinfo = p->serverinfo;
	sp->starttls = p->tls == 1;
	sp->auth = p->auth != NULL;
	sp->partial_delivery = a->partial_delivery == CONF_ON || p->force_partial;
	if (a->dsn_notify && strcmp(a->dsn_notify, "off") != 0)
		sp->dsn_notify = a->dsn_notify;
	if (a->dsn_return && strcmp(a->dsn_return, "off") != 0)
		sp->dsn_return = a->dsn_return;
	if (p->msg) {
		sp->body_8bit = msg_is_8bit(p->msg);
		sp->size = msg_wire_size(p->msg);
	}
	sp->smtputf8 = addr_is_8bit(sp->from);
	for (i = 0; i < p->nrcpts; i++)
		if (addr_is_8bit(p->rcpts[i]))
			sp->smtputf8 = 1;
}

static enum smtp_want submit_batch_next(struct submit_io *io,
					const struct submit_params *p,
					struct err *e);

/* Run the engine until it is done, writing and reading as it asks. */
static int submit_pump(struct submit_io *io, const struct submit_params *p,
		       struct submit_result *res, struct err *e)
{
	enum smtp_want w;

	if (p->tls == 2 && submit_tls(io, p, res, e) < 0)
		return -1;
	w = smtp_start(io->smtp);

	for (;;) {
		switch (w) {
		case SMTP_WANT_REPLY: {
			struct err le;

			err_init(&le);
			if (submit_flush(io, &le) < 0
			    || submit_read_reply(io, &le) < 0) {
				/* only the QUIT reply was missing: delivered */
				if (smtp_delivered(io->smtp) && !err_isset(e))
					return 0;
				err_set(e, le.code, "%s", le.msg);
				return -1;
			}
			w = smtp_on_reply(io->smtp, &io->reply, e);
			break;
		}
		case SMTP_WANT_BODY:
			if (submit_flush(io, e) < 0
			    || submit_body(io, io->msg, e) < 0)
				return -1;
			w = smtp_body_sent(io->smtp);
			break;
		case SMTP_WANT_DONE:
			submit_flush(io, e);
			return 0;
		case SMTP_WANT_FAIL:
			{
				struct err ignored;

				err_init(&ignored);
				submit_flush(io, &ignored);
			}
			return -1;
		case SMTP_WANT_ABORT:
			return -1;
		case SMTP_WANT_AUTH:
			if (submit_flush(io, e) < 0)
				return -1;
			w = submit_auth_begin(io, p, e);
			break;
		case SMTP_WANT_AUTH_STEP:
			if (submit_flush(io, e) < 0)
				return -1;
			w = submit_auth_step(io, e);
			break;
		case SMTP_WANT_NEXT:
			if (submit_flush(io, e) < 0)
				return -1;
			w = submit_batch_next(io, p, e);
			break;
		case SMTP_WANT_TLS:
			if (submit_flush(io, e) < 0 || submit_tls(io, p, res, e) < 0)
				return -1;
			w = smtp_tls_done(io->smtp);
			break;
		}
	}
}

void submit_result_free(struct submit_result *res)
{
	free(res->rcpts);
	res->rcpts = NULL;
}

/* The outcome of the engine's current (or last) message. */
static void submit_fill_result(struct submit_io *io, struct submit_result *res,
			       size_t nrcpts)
{
	const char *text;
	size_t i;

	res->delivered = smtp_delivered(io->smtp);
	res->maybe_delivered = !res->delivered && smtp_awaiting_eod(io->smtp);
	res->smtp_code = smtp_last_reply(io->smtp, &text);
	snprintf(res->smtp_text, sizeof res->smtp_text, "%s", text);
	free(res->rcpts);
	res->rcpts = NULL;
	if (nrcpts > 0 && (res->rcpts = calloc(nrcpts, sizeof *res->rcpts)))
		for (i = 0; i < nrcpts; i++)
			res->rcpts[i] = *smtp_rcpt(io->smtp, i);
}

/* WANT_NEXT: report the message just finished, then hand the engine the
 * next one or end the session. */
static enum smtp_want submit_batch_next(struct submit_io *io,
					const struct submit_params *p,
					struct err *e)
{
	struct submit_result r;
	struct submit_msg m;
	struct smtp_params sp;

	if (io->has_cur) {
		memset(&r, 0, sizeof r);
		submit_fill_result(io, &r, io->cur_nrcpts);
		r.tls_used = tls_active(io->conn);
		io->batch->done(io->batch->ctx, &r,
				err_isset(e) || !r.delivered ? -1 : 0, e);
		submit_result_free(&r);
		io->has_cur = 0;
	}
	err_init(e);
	memset(&m, 0, sizeof m);
	if (!io->batch->next(io->batch->ctx, &m))
		return smtp_finish(io->smtp);
	memset(&sp, 0, sizeof sp);
	submit_msg_params(p->acct, m.from, m.rcpts, m.nrcpts, m.msg,
			  p->force_partial || m.force_partial, &sp);
	io->msg = m.msg;
	io->has_cur = 1;
	io->cur_nrcpts = m.nrcpts;
	return smtp_next_message(io->smtp, &sp, e);
}

int submit_run_batch(const struct submit_params *p,
		     const struct submit_batch *b, struct submit_result *res,
		     struct err *e)
{
	struct submit_params q = *p;

	q.msg = NULL;
	q.rcpts = NULL;
	q.nrcpts = 0;
	q.batch_ = b;
	return submit_run(&q, res, e);
}

int submit_run(const struct submit_params *p, struct submit_result *res,
	       struct err *e)
{
	struct submit_io io;
	struct smtp_params sp;
	const char *text;
	int r;

	memset(res, 0, sizeof *res);
	memset(&io, 0, sizeof io);
	io.msg = p->msg;
	io.batch = p->batch_;
	submit_params_for_engine(p, &sp);
	sp.multi = io.batch != NULL;
	if (submit_connect(p->acct, &io.conn, e) < 0)
		return -1;
	res->connected = 1;
	snprintf(res->peer, sizeof res->peer, "%s", io.conn->peer);
	io.smtp = smtp_new(&sp, e);
	if (io.smtp == NULL) {
		net_close(io.conn);
		return -1;
	}
	reply_reader_init(&io.rr);
	reply_init(&io.reply);

	r = submit_pump(&io, p, res, e);
	if (io.has_cur) {       /* the session died under a message */
		struct submit_result cur;

		memset(&cur, 0, sizeof cur);
		submit_fill_result(&io, &cur, io.cur_nrcpts);
		io.batch->done(io.batch->ctx, &cur, -1, e);
		submit_result_free(&cur);
	}

	res->delivered = smtp_delivered(io.smtp);
	res->maybe_delivered = !res->delivered && smtp_awaiting_eod(io.smtp);
	res->smtp_code = smtp_last_reply(io.smtp, &text);
	snprintf(res->smtp_text, sizeof res->smtp_text, "%s", text);
	snprintf(res->greeting, sizeof res->greeting, "%s",
		 smtp_greeting(io.smtp));
	res->caps = *smtp_caps(io.smtp);
	res->size = sp.size;
	if (p->nrcpts > 0 && (res->rcpts = calloc(p->nrcpts,
						  sizeof *res->rcpts)) != NULL) {
		size_t i;

		for (i = 0; i < p->nrcpts; i++)
			res->rcpts[i] = *smtp_rcpt(io.smtp, i);
	}

	sasl_end(io.sasl);
	if (io.cb_data)
		buf_wipe(io.cb_data, io.creds.cb_len);
	free(io.cb_data);
	reply_free(&io.reply);
	reply_reader_free(&io.rr);
	smtp_free(io.smtp);
	net_close(io.conn);
	return r;
}
