/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz target: the SMTP/LMTP client engine (src/smtp.c) fed through the
 * reply reader (src/reply.c) by a driver that does what src/submit.c
 * does, in a whole session: greeting, EHLO/LHLO (or HELO), STARTTLS,
 * AUTH steps, MAIL/RCPT/DATA or BDAT, the end of data, RSET, QUIT; one
 * message or several (queue runs); --serverinfo and ETRN.
 *
 * Input: flag bytes (the account and the message), the cut sizes
 * (cut.h), then the server's bytes.  Invariants: every command line ends
 * in CRLF with no CR or LF inside and starts with a verb we send; nothing
 * follows QUIT; with STARTTLS required nothing but EHLO/HELO/LHLO,
 * STARTTLS and QUIT goes before the handshake; with AUTH required no MAIL
 * before an AUTH command; the message goes (354 or BDAT) only when every
 * recipient was accepted, or with partial delivery at least one; BDAT
 * announces exactly the chunk offered and the chunks add up to the
 * message; DONE comes without an error and, for a single message, only
 * once it was delivered; FAIL and ABORT come with an error; the engine
 * never spins without reading.
 */
#include "config.h"
#include "fuzzkit.h"
#include "cut.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "smtp.h"

#define FSMTP_STEPS_MAX 20000

static char *const fsmtp_addrs[] = {
	"a@example.org", "b@example.org", "c@example.net",
	"\xc3\xbc@example.org", "d@b\303\274cher.example", "e@example.org",
};

struct fsmtp {
	struct smtp_params p;
	struct smtp_session *s;
	struct reply_reader rr;
	struct reply reply;
	struct err e;
	struct fuzz_cuts cuts;
	const char *in;
	size_t in_len, in_off;
	/* choices */
	unsigned auth_choice;
	size_t msgs_left;       /* multi: messages still to offer */
	size_t chunk_size;
	/* what the session did */
	int tls_done;
	int auth_sent;
	int quit_sent;
	int msg_sent;           /* body or last chunk of this message went */
	uint64_t chunk_off;     /* BDAT bytes offered and sent so far */
	size_t chunk_len;       /* the chunk offered, not yet sent */
	int chunk_last;
	int chunk_ready;
	int last_accepted_eod;  /* a message was delivered */
};

/* Does `line` start with `verb` (a whole word)? */
static int fsmtp_is(const char *line, size_t len, const char *verb)
{
	size_t n = strlen(verb);

	return len >= n && memcmp(line, verb, n) == 0
		&& (len == n || line[n] == ' ' || verb[n - 1] == ':');
}

/* Check one command line the engine wrote. */
static void fsmtp_line(struct fsmtp *f, const char *l, size_t len)
{
	int hello = fsmtp_is(l, len, "EHLO") || fsmtp_is(l, len, "HELO")
		|| fsmtp_is(l, len, "LHLO");
	/* the only AUTH responses fsmtp_auth sends */
	int auth_line = f->auth_sent && ((len == 8 && memcmp(l, "dGVzdA==", 8)
					  == 0) || (len == 1 && l[0] == '*'));

	FUZZ_CHECK(memchr(l, '\r', len) == NULL && memchr(l, '\n', len) == NULL);
	FUZZ_CHECK(!f->quit_sent);
	FUZZ_CHECK(hello || fsmtp_is(l, len, "MAIL FROM:")
		   || fsmtp_is(l, len, "RCPT TO:") || fsmtp_is(l, len, "DATA")
		   || fsmtp_is(l, len, ".") || fsmtp_is(l, len, "RSET")
		   || fsmtp_is(l, len, "QUIT") || fsmtp_is(l, len, "STARTTLS")
		   || fsmtp_is(l, len, "AUTH") || fsmtp_is(l, len, "BDAT")
		   || fsmtp_is(l, len, "ETRN") || auth_line);
	if (f->p.starttls && !f->tls_done)
		FUZZ_CHECK(hello || fsmtp_is(l, len, "STARTTLS")
			   || fsmtp_is(l, len, "QUIT"));
	if (fsmtp_is(l, len, "MAIL FROM:") && f->p.auth)
		FUZZ_CHECK(f->auth_sent);
	if (fsmtp_is(l, len, "AUTH"))
		f->auth_sent = 1;
	if (fsmtp_is(l, len, "QUIT"))
		f->quit_sent = 1;
	if (fsmtp_is(l, len, "BDAT")) {
		char want[64];

		snprintf(want, sizeof want, "BDAT %zu%s", f->chunk_len,
			 f->chunk_last ? " LAST" : "");
		FUZZ_CHECK(f->chunk_ready);
		FUZZ_CHECK(len == strlen(want) && memcmp(l, want, len) == 0);
	}
}

/* Check and drop what the engine queued for the wire. */
static void fsmtp_flush(struct fsmtp *f)
{
	const struct buf *out = smtp_out(f->s);
	size_t i, n = smtp_out_lines(f->s), end = 0;

	for (i = 0; i < n; i++) {
		size_t off, len, red;

		smtp_out_line(f->s, i, &off, &len, &red);
		FUZZ_CHECK(off == end && off + len + 2 <= out->len);
		FUZZ_CHECK(red <= len);
		FUZZ_CHECK(out->data[off + len] == '\r'
			   && out->data[off + len + 1] == '\n');
		fsmtp_line(f, out->data + off, len);
		end = off + len + 2;
	}
	FUZZ_CHECK(end == out->len);
	smtp_out_clear(f->s);
}

/* The message may go: every recipient accepted, or some with partial
 * delivery. */
static void fsmtp_check_may_send(struct fsmtp *f)
{
	size_t i, ok = 0;

	for (i = 0; i < f->p.nrcpts; i++) {
		const struct smtp_rcpt_result *r = smtp_rcpt(f->s, i);

		FUZZ_CHECK(r != NULL);
		if (r->code / 100 == 2)
			ok++;
		else
			FUZZ_CHECK(f->p.partial_delivery);
	}
	FUZZ_CHECK(ok > 0);
	FUZZ_CHECK(!f->msg_sent);
}

/* 1 and a reply in f->reply, or 0 when the server has nothing more. */
static int fsmtp_read_reply(struct fsmtp *f)
{
	struct err le;
	int r;

	err_init(&le);
	reply_reader_set_line_max(&f->rr, smtp_reply_line_max(f->s));
	while ((r = reply_take(&f->rr, &f->reply, &le)) == 0) {
		size_t k;

		if (f->in_off == f->in_len)
			return 0;
		k = fuzz_cuts_next(&f->cuts, f->in_len - f->in_off);
		if (reply_feed(&f->rr, f->in + f->in_off, k, &le) < 0)
			return 0;
		f->in_off += k;
	}
	return r == 1;
}

/* The next message of a queue run (the same envelope each time). */
static enum smtp_want fsmtp_next(struct fsmtp *f)
{
	if (reply_pending(&f->rr) > 0) {
		err_set(&f->e, ERR_PROTOCOL, "unasked data");
		return smtp_quit_failed(f->s);
	}
	err_init(&f->e);
	f->msg_sent = 0;
	f->chunk_off = 0;
	f->chunk_ready = 0;
	if (f->msgs_left == 0)
		return smtp_finish(f->s);
	f->msgs_left--;
	return smtp_next_message(f->s, &f->p, &f->e);
}

/* BDAT: offer the next piece of the message (kept until sent). */
static enum smtp_want fsmtp_chunk(struct fsmtp *f)
{
	if (f->chunk_off == 0 && !f->chunk_ready)
		fsmtp_check_may_send(f);
	if (!f->chunk_ready) {
		uint64_t left = f->p.size - f->chunk_off;

		f->chunk_len = left < f->chunk_size ? (size_t)left : f->chunk_size;
		f->chunk_last = f->chunk_len == left;
		f->chunk_ready = 1;
	}
	return smtp_bdat(f->s, f->chunk_len, f->chunk_last);
}

static enum smtp_want fsmtp_chunk_sent(struct fsmtp *f)
{
	FUZZ_CHECK(f->chunk_ready);
	f->chunk_off += f->chunk_len;
	FUZZ_CHECK(f->chunk_off <= f->p.size);
	if (f->chunk_last) {
		FUZZ_CHECK(f->chunk_off == f->p.size);
		f->msg_sent = 1;
	}
	f->chunk_ready = 0;
	return smtp_chunk_sent(f->s);
}

static enum smtp_want fsmtp_auth(struct fsmtp *f, enum smtp_want w)
{
	static const char *const mechs[] = { "PLAIN", "LOGIN", "XOAUTH2" };
	unsigned c = f->auth_choice++;

	if (w == SMTP_WANT_AUTH_STEP)
		return smtp_auth_respond(f->s, (c & 3) == 3 ? "*" : "dGVzdA==");
	if (w == SMTP_WANT_AUTH_RETRY && (c & 4)) {
		/* no fresh token: the driver's error, as in submit.c */
		err_set(&f->e, ERR_NOPERM, "no fresh token");
		return smtp_quit_failed(f->s);
	}
	return smtp_auth_begin(f->s, mechs[c % 3], (c & 8) ? NULL
			       : (c & 16) ? "" : "AHVzZXIAcGFzcw==");
}

/* One step of the driver; 0 when the session is over. */
static int fsmtp_step(struct fsmtp *f, enum smtp_want *w)
{
	fsmtp_flush(f);
	switch (*w) {
	case SMTP_WANT_REPLY:
		if (!fsmtp_read_reply(f))
			return 0;       /* the connection is gone */
		*w = smtp_on_reply(f->s, &f->reply, &f->e);
		return 1;
	case SMTP_WANT_BODY:
		if (reply_pending(&f->rr) > 0)
			return 0;       /* submit aborts before the body */
		fsmtp_check_may_send(f);
		f->msg_sent = 1;
		*w = smtp_body_sent(f->s);
		return 1;
	case SMTP_WANT_DONE:
		FUZZ_CHECK(!err_isset(&f->e));
		if (!f->p.multi && !f->p.serverinfo && f->p.etrn == NULL)
			FUZZ_CHECK(smtp_delivered(f->s));
		return 0;
	case SMTP_WANT_FAIL:
	case SMTP_WANT_ABORT:
		FUZZ_CHECK(err_isset(&f->e));
		return 0;
	case SMTP_WANT_TLS:
		FUZZ_CHECK(f->p.starttls && !f->tls_done);
		if (reply_pending(&f->rr) > 0)
			return 0;       /* injected bytes: submit refuses */
		f->tls_done = 1;
		f->auth_sent = 0;
		*w = smtp_tls_done(f->s);
		return 1;
	case SMTP_WANT_AUTH:
	case SMTP_WANT_AUTH_STEP:
	case SMTP_WANT_AUTH_RETRY:
		FUZZ_CHECK(f->p.auth);
		*w = fsmtp_auth(f, *w);
		return 1;
	case SMTP_WANT_NEXT:
		FUZZ_CHECK(f->p.multi);
		*w = fsmtp_next(f);
		return 1;
	case SMTP_WANT_CHUNK:
		*w = fsmtp_chunk(f);
		return 1;
	case SMTP_WANT_CHUNK_SEND:
		*w = fsmtp_chunk_sent(f);
		return 1;
	}
	FUZZ_CHECK(0);
	return 0;
}

/* The account, the session and the message from the choice bytes. */
static void fsmtp_params(struct fsmtp *f, struct fuzz_in *in)
{
	unsigned a = fuzz_byte(in), b = fuzz_byte(in), i;
	size_t first = fuzz_byte(in) % 6;

	f->p.lmtp = a & 1;
	f->p.starttls = (a >> 1) & 1;
	f->p.auth = (a >> 2) & 1;
	f->p.oauth = (a >> 3) & 1;
	f->p.auth_retry = f->p.auth && ((a >> 4) & 1);
	f->p.partial_delivery = (a >> 5) & 1;
	f->p.chunking = (a >> 6) & 1;
	f->p.multi = (a >> 7) & 1;
	f->p.helo_domain = "client.example";
	f->p.from = (b & 1) ? "" : (b & 2) ? "\xc3\xa9@example.org"
		: "sender@example.org";
	f->p.nrcpts = 1 + (b >> 2) % 4;
	f->p.rcpts = fsmtp_addrs + (first + f->p.nrcpts <= 6 ? first : 0);
	f->p.body_8bit = (b >> 4) & 1;
	f->p.dsn_notify = (b >> 5) & 1 ? "failure,delay" : NULL;
	f->p.dsn_return = (b >> 6) & 1 ? "headers" : NULL;
	f->p.smtputf8 = (b & 2) != 0;
	for (i = 0; i < f->p.nrcpts; i++)
		if (strchr(f->p.rcpts[i], '\xc3'))
			f->p.smtputf8 = 1;
	f->p.size = fuzz_range(in, 2000);
	f->chunk_size = 1 + fuzz_byte(in);
	f->auth_choice = fuzz_byte(in);
	f->msgs_left = fuzz_byte(in) % 4;
	switch (fuzz_byte(in) % 8) {
	case 0: f->p.serverinfo = 1; break;
	case 1: f->p.etrn = "@example.org"; break;
	default: break;
	}
	if (f->p.serverinfo || f->p.etrn)
		f->p.multi = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fsmtp f;
	struct fuzz_in in;
	enum smtp_want w;
	size_t steps = 0;

	memset(&f, 0, sizeof f);
	fuzz_in_init(&in, data, size);
	fsmtp_params(&f, &in);
	fuzz_cuts_take(&f.cuts, &in);
	f.in = (const char *)in.p;
	f.in_len = in.n;
	err_init(&f.e);
	f.s = smtp_new(&f.p, &f.e);
	if (f.s == NULL)
		return 0;
	reply_reader_init(&f.rr);
	reply_init(&f.reply);
	w = smtp_start(f.s);
	while (fsmtp_step(&f, &w))
		FUZZ_CHECK(++steps < FSMTP_STEPS_MAX);
	fsmtp_flush(&f);
	reply_free(&f.reply);
	reply_reader_free(&f.rr);
	smtp_free(f.s);
	return 0;
}
