/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz target: the `-bs` server engine (src/smtpd.c) on client bytes,
 * driven the way src/serve.c drives it.
 *
 * Input: a byte choosing the answers to the final dots, the cut sizes
 * (cut.h), then the client's bytes.  The session runs twice, with all
 * bytes at once and cut into pieces.  Invariants: the replies, the
 * message bodies and envelopes and the way the session ends are the same
 * both times; every reply line is "NNN" + " " or "-" + printable text +
 * CRLF with a code 2xx..5xx; a message comes only with a valid sender
 * and 1..SMTPD_MAX_RCPTS valid recipients; nothing is produced after the
 * session closed.
 */
#include "config.h"
#include "fuzzkit.h"
#include "cut.h"

#include <string.h>

#include "addr.h"
#include "buf.h"
#include "smtpd.h"

#define FSMTPD_OUT_MAX (4 * 1024 * 1024)

struct fsmtpd_run {
	struct buf out;         /* replies */
	struct buf msgs;        /* per message: envelope and body */
	int closed, quit, in_txn;
};

/* Check the replies produced since the last flush. */
static void fsmtpd_check_replies(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		const char *cr = memchr(p + i, '\r', n - i);
		size_t len, k;

		FUZZ_CHECK(cr != NULL && cr + 1 < p + n && cr[1] == '\n');
		len = (size_t)(cr - (p + i));
		FUZZ_CHECK(len >= 4);
		FUZZ_CHECK(p[i] >= '2' && p[i] <= '5');
		FUZZ_CHECK(p[i + 1] >= '0' && p[i + 1] <= '9');
		FUZZ_CHECK(p[i + 2] >= '0' && p[i + 2] <= '9');
		FUZZ_CHECK(p[i + 3] == ' ' || p[i + 3] == '-');
		for (k = 4; k < len; k++) {
			unsigned char c = (unsigned char)p[i + k];

			FUZZ_CHECK(c >= 0x20 && c != 0x7f);
		}
		i += len + 2;
	}
}

static void fsmtpd_flush(struct fsmtpd_run *run, struct smtpd_session *s)
{
	const struct buf *o = smtpd_out(s);

	FUZZ_CHECK(!run->closed || o->len == 0);
	fsmtpd_check_replies(buf_str(o), o->len);
	buf_append(&run->out, buf_str(o), o->len);
	smtpd_out_clear(s);
}

/* EV_MESSAGE: check and record the envelope, answer the dot. */
static void fsmtpd_message(struct fsmtpd_run *run, struct smtpd_session *s,
			   unsigned answer)
{
	const char *from = smtpd_sender(s);
	char *const *rcpts;
	struct err e;
	size_t n, i;

	err_init(&e);
	rcpts = smtpd_rcpts(s, &n);
	FUZZ_CHECK(from != NULL && addr_check_envelope(from, &e) == 0);
	FUZZ_CHECK(n >= 1 && n <= SMTPD_MAX_RCPTS);
	buf_printf(&run->msgs, "\nMAIL <%s>", from);
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(rcpts[i][0] != '\0');
		FUZZ_CHECK(addr_check_envelope(rcpts[i], &e) == 0);
		buf_printf(&run->msgs, " <%s>", rcpts[i]);
	}
	buf_append_str(&run->msgs, "\nEND\n");
	switch (answer % 3) {
	case 0: smtpd_message_result(s, 250, "2.0.0", "queued as 1"); break;
	case 1: smtpd_message_result(s, 451, "4.3.0", "try again"); break;
	default: smtpd_message_result(s, 554, "", "refused"); break;
	}
}

static void fsmtpd_run(struct fsmtpd_run *run, const char *p, size_t n,
		       unsigned answers, struct fuzz_cuts *cuts)
{
	struct smtpd_session *s;
	struct err e;
	size_t off = 0;
	int msgs = 0;

	err_init(&e);
	memset(run, 0, sizeof *run);
	buf_init(&run->out, FSMTPD_OUT_MAX);
	buf_init(&run->msgs, FSMTPD_OUT_MAX);
	s = smtpd_new("mx.example", &e);
	FUZZ_CHECK(s != NULL);
	smtpd_greet(s);
	for (;;) {
		const char *b;
		size_t bn, k;

		switch (smtpd_step(s)) {
		case SMTPD_EV_BODY:
			smtpd_body(s, &b, &bn);
			buf_append(&run->msgs, b, bn);
			continue;
		case SMTPD_EV_MESSAGE:
			fsmtpd_message(run, s, answers >> (msgs++ % 8));
			continue;
		case SMTPD_EV_CLOSE:
			fsmtpd_flush(run, s);
			run->closed = 1;
			break;
		case SMTPD_EV_NONE:
			fsmtpd_flush(run, s);
			if (off == n)
				break;
			k = fuzz_cuts_next(cuts, n - off);
			FUZZ_CHECK(smtpd_feed(s, p + off, k, &e) == 0);
			off += k;
			continue;
		}
		break;
	}
	run->quit = smtpd_quit_seen(s);
	run->in_txn = smtpd_in_transaction(s);
	smtpd_free(s);
}

static struct fsmtpd_run fsmtpd_a, fsmtpd_b;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in;
	struct fuzz_cuts whole = { { 0 }, 0, 0 }, cuts;
	unsigned answers;

	fuzz_in_init(&in, data, size);
	answers = fuzz_byte(&in);
	fuzz_cuts_take(&cuts, &in);
	fsmtpd_run(&fsmtpd_a, (const char *)in.p, in.n, answers, &whole);
	fsmtpd_run(&fsmtpd_b, (const char *)in.p, in.n, answers, &cuts);
	FUZZ_CHECK(fsmtpd_a.out.len == fsmtpd_b.out.len);
	FUZZ_CHECK(memcmp(buf_str(&fsmtpd_a.out), buf_str(&fsmtpd_b.out),
			  fsmtpd_a.out.len) == 0);
	FUZZ_CHECK(fsmtpd_a.msgs.len == fsmtpd_b.msgs.len);
	FUZZ_CHECK(memcmp(buf_str(&fsmtpd_a.msgs), buf_str(&fsmtpd_b.msgs),
			  fsmtpd_a.msgs.len) == 0);
	FUZZ_CHECK(fsmtpd_a.closed == fsmtpd_b.closed);
	FUZZ_CHECK(fsmtpd_a.quit == fsmtpd_b.quit);
	FUZZ_CHECK(fsmtpd_a.in_txn == fsmtpd_b.in_txn);
	FUZZ_CHECK(!fsmtpd_a.quit || fsmtpd_a.closed);
	buf_free(&fsmtpd_a.out);
	buf_free(&fsmtpd_a.msgs);
	buf_free(&fsmtpd_b.out);
	buf_free(&fsmtpd_b.msgs);
	return 0;
}
