/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Engine transcripts: server replies in, exact client lines out.  "C:"
 * lines must all be queued before the next "S:" reply is read, so a case
 * also proves which commands travel together in one pipelined batch. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"

struct tcase {
	const char *name;
	int pipelining_server;  /* unused: caps come from the EHLO reply */
	int lmtp;               /* 1: LMTP; 2: SMTP with AUTH wanted */
	int partial;
	const char *dsn_notify;
	const char *dsn_return;
	int body_8bit;
	int starttls;
	size_t nrcpts;
	const char *script[40];
	const char *result;     /* "DONE" or "FAIL n" or "ABORT n" */
};

static char *rcpts[] = { "a@x.test", "b@x.test", "c@x.test" };

/* The account's `chunking` for the cases being run (BDAT when offered). */
static int g_chunking;

#define EHLO_PIPE "S: 250-fake\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n250 DSN\r\n"
#define EHLO_PLAIN "S: 250-fake\r\n250 8BITMIME\r\n"

static const struct tcase cases[] = {
	{ "pipelined success", 0, 0, 0, NULL, NULL, 0, 0, 2, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_PIPE,
		"C: MAIL FROM:<s@x.test> SIZE=100", "C: RCPT TO:<a@x.test>",
		"C: RCPT TO:<b@x.test>", "C: DATA",
		"S: 250 ok\r\n", "S: 250 ok\r\n", "S: 250 ok\r\n", "S: 354 go\r\n",
		"BODY", "S: 250 queued\r\n", "C: QUIT", "S: 221 bye\r\n", NULL },
	  "DONE" },
	{ "no pipelining: one at a time", 0, 0, 0, NULL, NULL, 0, 0, 2, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_PLAIN,
		"C: MAIL FROM:<s@x.test>", "S: 250 ok\r\n",
		"C: RCPT TO:<a@x.test>", "S: 250 ok\r\n",
		"C: RCPT TO:<b@x.test>", "S: 250 ok\r\n",
		"C: DATA", "S: 354 go\r\n", "BODY", "S: 250 ok\r\n",
		"C: QUIT", "S: 221 bye\r\n", NULL }, "DONE" },
	{ "helo fallback", 0, 0, 0, NULL, NULL, 1, 0, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost", "S: 502 no\r\n",
		"C: HELO localhost", "S: 250 ok\r\n",
		"C: MAIL FROM:<s@x.test>", "S: 250 ok\r\n",
		"C: RCPT TO:<a@x.test>", "S: 250 ok\r\n",
		"C: DATA", "S: 354 go\r\n", "BODY", "S: 250 ok\r\n",
		"C: QUIT", "S: 221 bye\r\n", NULL }, "DONE" },
	{ "ehlo and helo refused", 0, 0, 0, NULL, NULL, 0, 0, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost", "S: 500 no\r\n",
		"C: HELO localhost", "S: 501 no\r\n", "C: QUIT",
		"S: 221 bye\r\n", NULL }, "FAIL 76" },
	{ "greeting 421", 0, 0, 0, NULL, NULL, 0, 0, 1, {
		"S: 421 busy\r\n", NULL }, "FAIL 75" },
	{ "greeting 554", 0, 0, 0, NULL, NULL, 0, 0, 1, {
		"S: 554 go away\r\n", "C: QUIT", "S: 221 bye\r\n", NULL },
	  "FAIL 76" },
	{ "8bit body with 8BITMIME", 0, 0, 0, NULL, NULL, 1, 0, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_PIPE,
		"C: MAIL FROM:<s@x.test> SIZE=100 BODY=8BITMIME",
		"C: RCPT TO:<a@x.test>", "C: DATA",
		"S: 250 ok\r\n", "S: 250 ok\r\n", "S: 354 go\r\n", "BODY",
		"S: 250 ok\r\n", "C: QUIT", "S: 221 bye\r\n", NULL }, "DONE" },
	{ "dsn parameters", 0, 0, 0, "failure,delay", "headers", 0, 0, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_PIPE,
		"C: MAIL FROM:<s@x.test> SIZE=100 RET=HDRS",
		"C: RCPT TO:<a@x.test> NOTIFY=FAILURE,DELAY", "C: DATA",
		"S: 250 ok\r\n", "S: 250 ok\r\n", "S: 354 go\r\n", "BODY",
		"S: 250 ok\r\n", "C: QUIT", "S: 221 bye\r\n", NULL }, "DONE" },
	{ "dsn requested, not offered", 0, 0, 0, "never", NULL, 0, 0, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_PLAIN, "C: QUIT",
		"S: 221 bye\r\n", NULL }, "FAIL 69" },
	{ "one rcpt refused, pipelined: abort in DATA", 0, 0, 0, NULL, NULL, 0, 0, 2, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_PIPE,
		"C: MAIL FROM:<s@x.test> SIZE=100", "C: RCPT TO:<a@x.test>",
		"C: RCPT TO:<b@x.test>", "C: DATA",
		"S: 250 ok\r\n", "S: 250 ok\r\n", "S: 550 5.1.1 no\r\n",
		"S: 354 go\r\n", NULL }, "ABORT 65" },
	{ "one rcpt refused, pipelined, DATA refused", 0, 0, 0, NULL, NULL, 0, 0, 2, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_PIPE,
		"C: MAIL FROM:<s@x.test> SIZE=100", "C: RCPT TO:<a@x.test>",
		"C: RCPT TO:<b@x.test>", "C: DATA",
		"S: 250 ok\r\n", "S: 450 4.2.0 later\r\n", "S: 250 ok\r\n",
		"S: 503 no valid\r\n", "C: RSET", "C: QUIT", "S: 250 ok\r\n",
		"S: 221 bye\r\n", NULL }, "FAIL 75" },
	{ "one rcpt refused, not pipelined: RSET QUIT", 0, 0, 0, NULL, NULL, 0, 0, 2, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_PLAIN,
		"C: MAIL FROM:<s@x.test>", "S: 250 ok\r\n",
		"C: RCPT TO:<a@x.test>", "S: 550 no\r\n",
		"C: RCPT TO:<b@x.test>", "S: 250 ok\r\n",
		"C: RSET", "S: 250 ok\r\n", "C: QUIT", "S: 221 bye\r\n", NULL },
	  "FAIL 65" },
	{ "all refused but 354: lone dot", 0, 0, 0, NULL, NULL, 0, 0, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_PIPE,
		"C: MAIL FROM:<s@x.test> SIZE=100", "C: RCPT TO:<a@x.test>",
		"C: DATA", "S: 250 ok\r\n", "S: 550 no\r\n", "S: 354 go\r\n",
		"C: .", "C: QUIT", "S: 554 no valid recipients\r\n",
		"S: 221 bye\r\n", NULL }, "FAIL 65" },
	{ "partial delivery", 0, 0, 1, NULL, NULL, 0, 0, 2, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_PLAIN,
		"C: MAIL FROM:<s@x.test>", "S: 250 ok\r\n",
		"C: RCPT TO:<a@x.test>", "S: 550 no\r\n",
		"C: RCPT TO:<b@x.test>", "S: 250 ok\r\n",
		"C: DATA", "S: 354 go\r\n", "BODY", "S: 250 ok\r\n",
		"C: QUIT", "S: 221 bye\r\n", NULL }, "FAIL 65" },
	{ "mail refused temp", 0, 0, 0, NULL, NULL, 0, 0, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_PLAIN,
		"C: MAIL FROM:<s@x.test>", "S: 451 later\r\n", "C: RSET",
		"S: 250 ok\r\n", "C: QUIT", "S: 221 bye\r\n", NULL }, "FAIL 75" },
	{ "mail refused perm, pipelined", 0, 0, 0, NULL, NULL, 0, 0, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_PIPE,
		"C: MAIL FROM:<s@x.test> SIZE=100", "C: RCPT TO:<a@x.test>",
		"C: DATA", "S: 550 no\r\n", "S: 503 no mail\r\n",
		"S: 503 no mail\r\n", "C: RSET", "C: QUIT", "S: 250 ok\r\n",
		"S: 221 bye\r\n", NULL }, "FAIL 65" },
	{ "data refused 554", 0, 0, 0, NULL, NULL, 0, 0, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_PLAIN,
		"C: MAIL FROM:<s@x.test>", "S: 250 ok\r\n",
		"C: RCPT TO:<a@x.test>", "S: 250 ok\r\n", "C: DATA",
		"S: 554 no\r\n", "C: RSET", "S: 250 ok\r\n", "C: QUIT",
		"S: 221 bye\r\n", NULL }, "FAIL 69" },
	{ "end of data 550", 0, 0, 0, NULL, NULL, 0, 0, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_PLAIN,
		"C: MAIL FROM:<s@x.test>", "S: 250 ok\r\n",
		"C: RCPT TO:<a@x.test>", "S: 250 ok\r\n", "C: DATA",
		"S: 354 go\r\n", "BODY", "S: 550 spam\r\n", "C: QUIT",
		"S: 221 bye\r\n", NULL }, "FAIL 69" },
	{ "end of data 451", 0, 0, 0, NULL, NULL, 0, 0, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_PLAIN,
		"C: MAIL FROM:<s@x.test>", "S: 250 ok\r\n",
		"C: RCPT TO:<a@x.test>", "S: 250 ok\r\n", "C: DATA",
		"S: 354 go\r\n", "BODY", "S: 451 later\r\n", "C: QUIT",
		"S: 221 bye\r\n", NULL }, "FAIL 75" },
	{ "starttls then EHLO again, caps forgotten", 0, 0, 0, NULL, NULL, 0, 1, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost",
		"S: 250-fake\r\n250-PIPELINING\r\n250 STARTTLS\r\n",
		"C: STARTTLS", "S: 220 go ahead\r\n", "TLS", "C: EHLO localhost",
		"S: 250 fake\r\n", "C: MAIL FROM:<s@x.test>", "S: 250 ok\r\n",
		"C: RCPT TO:<a@x.test>", "S: 250 ok\r\n", "C: DATA",
		"S: 354 go\r\n", "BODY", "S: 250 ok\r\n", "C: QUIT",
		"S: 221 bye\r\n", NULL }, "DONE" },
	{ "starttls required, not offered", 0, 0, 0, NULL, NULL, 0, 1, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_PIPE, "C: QUIT",
		"S: 221 bye\r\n", NULL }, "FAIL 69" },
	{ "starttls refused 502", 0, 0, 0, NULL, NULL, 0, 1, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost", "S: 250-f\r\n250 STARTTLS\r\n",
		"C: STARTTLS", "S: 502 no\r\n", "C: QUIT", "S: 221 bye\r\n",
		NULL }, "FAIL 76" },
	{ "auth plain then transaction", 0, 2, 0, NULL, NULL, 0, 0, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost", "S: 250-f\r\n250 AUTH PLAIN\r\n",
		"AUTHBEGIN PLAIN AHUAcA==", "C: AUTH PLAIN AHUAcA==",
		"S: 235 ok\r\n", "C: MAIL FROM:<s@x.test>", "S: 250 ok\r\n",
		"C: RCPT TO:<a@x.test>", "S: 250 ok\r\n", "C: DATA",
		"S: 354 go\r\n", "BODY", "S: 250 ok\r\n", "C: QUIT",
		"S: 221 bye\r\n", NULL }, "DONE" },
	{ "auth login challenges, 535", 0, 2, 0, NULL, NULL, 0, 0, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost", "S: 250-f\r\n250 AUTH LOGIN\r\n",
		"AUTHBEGIN LOGIN", "C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6\r\n",
		"AUTHSTEP dQ==", "C: dQ==", "S: 334 UGFzc3dvcmQ6\r\n",
		"AUTHSTEP cA==", "C: cA==", "S: 535 5.7.8 bad\r\n", "C: QUIT",
		"S: 221 bye\r\n", NULL }, "FAIL 77" },
	{ "auth 454", 0, 2, 0, NULL, NULL, 0, 0, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost", "S: 250-f\r\n250 AUTH PLAIN\r\n",
		"AUTHBEGIN PLAIN ", "C: AUTH PLAIN =", "S: 454 later\r\n", "C: QUIT",
		"S: 221 bye\r\n", NULL }, "FAIL 75" },
	{ "auth wanted, not offered", 0, 2, 0, NULL, NULL, 0, 0, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_PIPE, "C: QUIT",
		"S: 221 bye\r\n", NULL }, "FAIL 69" },
	{ "lmtp per-recipient replies", 0, 1, 0, NULL, NULL, 0, 0, 2, {
		"S: 220 hi\r\n", "C: LHLO localhost", "S: 250-lmtp\r\n250 PIPELINING\r\n",
		"C: MAIL FROM:<s@x.test>", "C: RCPT TO:<a@x.test>",
		"C: RCPT TO:<b@x.test>", "C: DATA", "S: 250 ok\r\n",
		"S: 250 ok\r\n", "S: 250 ok\r\n", "S: 354 go\r\n", "BODY",
		"S: 250 ok a\r\n", "S: 452 full b\r\n", "C: QUIT",
		"S: 221 bye\r\n", NULL }, "FAIL 75" },
};

/* What a case expects beyond its transcript (-1: not checked). */
struct texpect {
	int scope;              /* enum outcome_scope of the failure */
	int eod_unclear;
	const char *from;       /* NULL: s@x.test */
	char **rcpts;           /* NULL: a@x.test ... */
	int smtputf8;
	int oauth, auth_retry;
};

static void run_case_x(const struct tcase *c, const struct texpect *x)
{
	struct smtp_params p;
	struct smtp_session *s;
	struct reply_reader rr;
	struct reply r;
	struct err e;
	enum smtp_want w;
	size_t i, matched = 0;
	char want[64];

	memset(&p, 0, sizeof p);
	p.lmtp = c->lmtp == 1;
	p.helo_domain = "localhost";
	p.from = x && x->from ? x->from : "s@x.test";
	p.rcpts = x && x->rcpts ? x->rcpts : rcpts;
	p.nrcpts = c->nrcpts;
	p.smtputf8 = x ? x->smtputf8 : 0;
	p.oauth = x ? x->oauth : 0;
	p.auth_retry = x ? x->auth_retry : 0;
	p.size = 100;
	p.body_8bit = c->body_8bit;
	p.partial_delivery = c->partial;
	p.dsn_notify = c->dsn_notify;
	p.dsn_return = c->dsn_return;
	p.starttls = c->starttls;
	p.auth = c->lmtp == 2;
	p.chunking = g_chunking;
	err_init(&e);
	s = smtp_new(&p, &e);
	assert_non_null(s);
	reply_reader_init(&rr);
	reply_init(&r);
	w = smtp_start(s);
	for (i = 0; c->script[i] != NULL; i++) {
		const char *step = c->script[i];

		if (strncmp(step, "C: ", 3) == 0) {
			size_t off, len, red;
			const struct buf *out = smtp_out(s);

			if (matched >= smtp_out_lines(s))
				fail_msg("%s: step %zu: expected client line '%s', none queued",
					 c->name, i, step + 3);
			smtp_out_line(s, matched, &off, &len, &red);
			if (len != strlen(step + 3)
			    || memcmp(out->data + off, step + 3, len) != 0)
				fail_msg("%s: step %zu: expected '%s', got '%.*s'",
					 c->name, i, step + 3, (int)len,
					 out->data + off);
			matched++;
		} else if (strncmp(step, "AUTHBEGIN ", 10) == 0) {
			char mech[32], *sp;

			if (w != SMTP_WANT_AUTH)
				fail_msg("%s: step %zu: want %d, expected AUTH",
					 c->name, i, (int)w);
			snprintf(mech, sizeof mech, "%s", step + 10);
			sp = strchr(mech, ' ');
			if (sp)
				*sp = '\0';
			w = smtp_auth_begin(s, mech, sp ? step + 10 + (sp - mech) + 1 : NULL);
		} else if (strncmp(step, "AUTHSTEP ", 9) == 0) {
			if (w != SMTP_WANT_AUTH_STEP)
				fail_msg("%s: step %zu: want %d, expected AUTH step",
					 c->name, i, (int)w);
			w = smtp_auth_respond(s, step + 9);
		} else if (strcmp(step, "RETRY") == 0) {
			if (w != SMTP_WANT_AUTH_RETRY)
				fail_msg("%s: step %zu: want %d, expected an AUTH "
					 "retry", c->name, i, (int)w);
			w = SMTP_WANT_AUTH;
		} else if (strcmp(step, "TLS") == 0) {
			if (w != SMTP_WANT_TLS)
				fail_msg("%s: step %zu: want %d, expected TLS",
					 c->name, i, (int)w);
			w = smtp_tls_done(s);
		} else if (strncmp(step, "OFFER ", 6) == 0) {
			/* the driver offers a chunk: "OFFER n" or "OFFER n LAST" */
			if (w != SMTP_WANT_CHUNK)
				fail_msg("%s: step %zu: want %d, expected CHUNK (%s)",
					 c->name, i, (int)w, e.msg);
			w = smtp_bdat(s, (size_t)strtoul(step + 6, NULL, 10),
				      strstr(step, "LAST") != NULL);
		} else if (strcmp(step, "SENT") == 0) {
			if (w != SMTP_WANT_CHUNK_SEND)
				fail_msg("%s: step %zu: want %d, expected CHUNK_SEND",
					 c->name, i, (int)w);
			w = smtp_chunk_sent(s);
		} else if (strcmp(step, "BODY") == 0) {
			if (w != SMTP_WANT_BODY)
				fail_msg("%s: step %zu: want %d, expected BODY",
					 c->name, i, (int)w);
			w = smtp_body_sent(s);
		} else {
			if (w != SMTP_WANT_REPLY)
				fail_msg("%s: step %zu: want %d, expected to read a reply (%s)",
					 c->name, i, (int)w, e.msg);
			if (matched != smtp_out_lines(s))
				fail_msg("%s: step %zu: %zu unexpected client lines queued",
					 c->name, i, smtp_out_lines(s) - matched);
			smtp_out_clear(s);
			matched = 0;
			assert_int_equal(reply_feed(&rr, step + 3, strlen(step + 3), &e), 0);
			assert_int_equal(reply_take(&rr, &r, &e), 1);
			w = smtp_on_reply(s, &r, &e);
		}
	}
	if (matched != smtp_out_lines(s))
		fail_msg("%s: %zu unexpected client lines at the end", c->name,
			 smtp_out_lines(s) - matched);
	if (w == SMTP_WANT_DONE)
		snprintf(want, sizeof want, "DONE");
	else if (w == SMTP_WANT_FAIL)
		snprintf(want, sizeof want, "FAIL %d", e.code);
	else if (w == SMTP_WANT_ABORT)
		snprintf(want, sizeof want, "ABORT %d", e.code);
	else
		snprintf(want, sizeof want, "WANT %d", (int)w);
	if (strcmp(want, c->result) != 0)
		fail_msg("%s: ended with %s (%s), expected %s", c->name, want,
			 e.msg, c->result);
	if (strcmp(c->result, "DONE") == 0)
		assert_true(smtp_delivered(s));
	if (x && x->scope >= 0 && (int)smtp_failure_scope(s) != x->scope)
		fail_msg("%s: failure scope %s, expected %s", c->name,
			 outcome_scope_name(smtp_failure_scope(s)),
			 outcome_scope_name((enum outcome_scope)x->scope));
	if (x && x->eod_unclear >= 0 && smtp_eod_unclear(s) != x->eod_unclear)
		fail_msg("%s: eod_unclear %d", c->name, smtp_eod_unclear(s));
	reply_free(&r);
	reply_reader_free(&rr);
	smtp_free(s);
}

static void run_case(const struct tcase *c)
{
	run_case_x(c, NULL);
}

static void test_transcripts(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		run_case(&cases[i]);
}

static void test_refused_message_names_all(void **state)
{
	/* Every refused address appears in the one-line error. */
	const struct tcase c = { "names", 0, 0, 0, NULL, NULL, 0, 0, 3, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_PIPE,
		"C: MAIL FROM:<s@x.test> SIZE=100", "C: RCPT TO:<a@x.test>",
		"C: RCPT TO:<b@x.test>", "C: RCPT TO:<c@x.test>", "C: DATA",
		"S: 250 ok\r\n", "S: 550 5.1.1 unknown a\r\n", "S: 250 ok\r\n",
		"S: 450 4.2.2 full c\r\n", "S: 503 no\r\n", "C: RSET", "C: QUIT",
		"S: 250 ok\r\n", "S: 221 bye\r\n", NULL }, "FAIL 65" };
	struct smtp_params p;
	struct smtp_session *s;
	struct reply_reader rr;
	struct reply r;
	struct err e;
	size_t i;

	(void)state;
	run_case(&c);
	memset(&p, 0, sizeof p);
	p.helo_domain = "localhost";
	p.from = "s@x.test";
	p.rcpts = rcpts;
	p.nrcpts = 3;
	err_init(&e);
	s = smtp_new(&p, &e);
	reply_reader_init(&rr);
	reply_init(&r);
	smtp_start(s);
	for (i = 0; c.script[i]; i++) {
		if (strncmp(c.script[i], "S: ", 3) != 0)
			continue;
		reply_feed(&rr, c.script[i] + 3, strlen(c.script[i] + 3), &e);
		assert_int_equal(reply_take(&rr, &r, &e), 1);
		smtp_on_reply(s, &r, &e);
	}
	assert_non_null(strstr(e.msg, "<a@x.test> (550 5.1.1 unknown a)"));
	assert_non_null(strstr(e.msg, "<c@x.test> (450 4.2.2 full c)"));
	assert_null(strstr(e.msg, "<b@x.test>"));
	reply_free(&r);
	reply_reader_free(&rr);
	smtp_free(s);
}

/* The AUTH line is redacted from the payload on; responses entirely. */
static void test_auth_redaction(void **state)
{
	struct smtp_params p;
	struct smtp_session *s;
	struct err e;
	size_t off, len, red;

	(void)state;
	memset(&p, 0, sizeof p);
	p.helo_domain = "h";
	p.from = "f@x";
	p.rcpts = rcpts;
	p.nrcpts = 1;
	p.auth = 1;
	err_init(&e);
	s = smtp_new(&p, &e);
	smtp_auth_begin(s, "PLAIN", "c2VjcmV0");
	smtp_out_line(s, 0, &off, &len, &red);
	assert_int_equal(len, strlen("AUTH PLAIN c2VjcmV0"));
	assert_int_equal(red, strlen("AUTH PLAIN "));
	smtp_auth_respond(s, "c2VjcmV0");
	smtp_out_line(s, 1, &off, &len, &red);
	assert_int_equal(red, 0);
	smtp_auth_respond(s, "*");
	smtp_out_line(s, 2, &off, &len, &red);
	assert_int_equal(red, 1);
	smtp_free(s);
}

/* multi: two messages over one session, the first refused (RSET), then
 * QUIT once; nothing is sent for a message larger than SIZE. */
static void test_multi_session(void **state)
{
	static char *r1[] = { "a@x.test" };
	static const char *script[] = {
		"220 hi\r\n", "250-f\r\n250-PIPELINING\r\n250 SIZE 500\r\n",
		"250 ok\r\n", "550 no\r\n", "503 no rcpt\r\n", "250 reset\r\n",
		"250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 queued\r\n",
		"221 bye\r\n", NULL
	};
	static const char *want =
		"EHLO h\r\n"
		"MAIL FROM:<f@x> SIZE=10\r\nRCPT TO:<a@x.test>\r\nDATA\r\n"
		"RSET\r\n"
		"MAIL FROM:<g@x> SIZE=20\r\nRCPT TO:<a@x.test>\r\nDATA\r\n"
		"QUIT\r\n";
	struct smtp_params p, m;
	struct smtp_session *s;
	struct reply_reader rr;
	struct reply r;
	struct err e;
	enum smtp_want w;
	char wire[2048] = "";
	size_t i = 0, o = 0;
	int msgs = 0, outcomes = 0, failures = 0;

	(void)state;
	memset(&p, 0, sizeof p);
	p.helo_domain = "h";
	p.multi = 1;
	err_init(&e);
	s = smtp_new(&p, &e);
	reply_reader_init(&rr);
	reply_init(&r);
	w = smtp_start(s);
	for (;;) {
		const struct buf *out = smtp_out(s);

		memcpy(wire + o, buf_str(out), out->len);
		o += out->len;
		smtp_out_clear(s);
		if (w == SMTP_WANT_NEXT) {
			if (msgs > 0) {
				outcomes++;
				failures += err_isset(&e) || !smtp_delivered(s);
			}
			err_init(&e);
			memset(&m, 0, sizeof m);
			m.rcpts = r1;
			m.nrcpts = 1;
			if (msgs == 0) {
				m.from = "f@x";
				m.size = 10;
			} else if (msgs == 1) {
				m.from = "big@x";
				m.size = 501;   /* over SIZE: fails without a word */
			} else if (msgs == 2) {
				m.from = "g@x";
				m.size = 20;
			} else {
				w = smtp_finish(s);
				msgs++;
				continue;
			}
			msgs++;
			w = smtp_next_message(s, &m, &e);
			continue;
		}
		if (w == SMTP_WANT_BODY) {
			w = smtp_body_sent(s);
			continue;
		}
		if (w != SMTP_WANT_REPLY)
			break;
		assert_non_null(script[i]);
		reply_feed(&rr, script[i], strlen(script[i]), &e);
		i++;
		assert_int_equal(reply_take(&rr, &r, &e), 1);
		w = smtp_on_reply(s, &r, &e);
	}
	wire[o] = '\0';
	assert_int_equal(w, SMTP_WANT_DONE);
	assert_string_equal(wire, want);
	assert_int_equal(outcomes, 3);
	assert_int_equal(failures, 2);
	assert_null(script[i]);
	reply_free(&r);
	reply_reader_free(&rr);
	smtp_free(s);
}

#define EHLO_NOUTF8 "S: 250-fake\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
#define EHLO_UTF8 "S: 250-fake\r\n250-PIPELINING\r\n250 SMTPUTF8\r\n"

/* Each failure carries its scope: the session's (authentication or TLS
 * required, EHLO, DSN support, a lie after the dot), the message's, or the
 * recipients'; only 250 accepts the end of data. */
static const struct tcase scope_cases[] = {
	{ "MAIL 530: the session must authenticate first", 0, 0, 0, NULL, NULL,
	  0, 0, 1, { "S: 220 hi\r\n", "C: EHLO localhost", EHLO_PIPE,
		"C: MAIL FROM:<s@x.test> SIZE=100", "C: RCPT TO:<a@x.test>",
		"C: DATA", "S: 530 5.7.0 Authentication required\r\n",
		"S: 503 need MAIL\r\n", "S: 503 need MAIL\r\n", "C: RSET",
		"C: QUIT", "S: 250 ok\r\n", "S: 221 bye\r\n", NULL }, "FAIL 65" },
	{ "MAIL 550 5.7.0 (enhanced code alone)", 0, 0, 0, NULL, NULL,
	  0, 0, 1, { "S: 220 hi\r\n", "C: EHLO localhost", EHLO_PIPE,
		"C: MAIL FROM:<s@x.test> SIZE=100", "C: RCPT TO:<a@x.test>",
		"C: DATA", "S: 550 5.7.0 Must issue STARTTLS\r\n",
		"S: 503 need MAIL\r\n", "S: 503 need MAIL\r\n", "C: RSET",
		"C: QUIT", "S: 250 ok\r\n", "S: 221 bye\r\n", NULL }, "FAIL 65" },
	{ "MAIL 550 5.1.8: the message", 0, 0, 0, NULL, NULL,
	  0, 0, 1, { "S: 220 hi\r\n", "C: EHLO localhost", EHLO_PIPE,
		"C: MAIL FROM:<s@x.test> SIZE=100", "C: RCPT TO:<a@x.test>",
		"C: DATA", "S: 550 5.1.8 bad sender domain\r\n",
		"S: 503 need MAIL\r\n", "S: 503 need MAIL\r\n", "C: RSET",
		"C: QUIT", "S: 250 ok\r\n", "S: 221 bye\r\n", NULL }, "FAIL 65" },
	{ "RCPT 530: the session", 0, 0, 0, NULL, NULL, 0, 0, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_PIPE,
		"C: MAIL FROM:<s@x.test> SIZE=100", "C: RCPT TO:<a@x.test>",
		"C: DATA", "S: 250 ok\r\n", "S: 530 5.7.0 auth first\r\n",
		"S: 554 no valid recipients\r\n", "C: RSET", "C: QUIT",
		"S: 250 ok\r\n", "S: 221 bye\r\n", NULL }, "FAIL 65" },
	{ "RCPT 550 5.1.1: the recipient", 0, 0, 0, NULL, NULL, 0, 0, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_PIPE,
		"C: MAIL FROM:<s@x.test> SIZE=100", "C: RCPT TO:<a@x.test>",
		"C: DATA", "S: 250 ok\r\n", "S: 550 5.1.1 unknown\r\n",
		"S: 554 no valid recipients\r\n", "C: RSET", "C: QUIT",
		"S: 250 ok\r\n", "S: 221 bye\r\n", NULL }, "FAIL 65" },
	{ "end of data 221: not delivered, maybe", 0, 0, 0, NULL, NULL, 0, 0, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_PIPE,
		"C: MAIL FROM:<s@x.test> SIZE=100", "C: RCPT TO:<a@x.test>",
		"C: DATA", "S: 250 ok\r\n", "S: 250 ok\r\n", "S: 354 go\r\n",
		"BODY", "S: 221 bye\r\n", "C: QUIT", "S: 221 bye\r\n", NULL },
	  "FAIL 76" },
	{ "end of data 554: the message", 0, 0, 0, NULL, NULL, 0, 0, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_PIPE,
		"C: MAIL FROM:<s@x.test> SIZE=100", "C: RCPT TO:<a@x.test>",
		"C: DATA", "S: 250 ok\r\n", "S: 250 ok\r\n", "S: 354 go\r\n",
		"BODY", "S: 554 5.7.1 spam\r\n", "C: QUIT", "S: 221 bye\r\n",
		NULL }, "FAIL 69" },
	{ "LMTP 251 for one recipient: maybe", 0, 1, 0, NULL, NULL, 0, 0, 2, {
		"S: 220 hi\r\n", "C: LHLO localhost", EHLO_PIPE,
		"C: MAIL FROM:<s@x.test> SIZE=100", "C: RCPT TO:<a@x.test>",
		"C: RCPT TO:<b@x.test>", "C: DATA", "S: 250 ok\r\n",
		"S: 250 ok\r\n", "S: 250 ok\r\n", "S: 354 go\r\n", "BODY",
		"S: 250 ok a\r\n", "S: 251 b forwarded\r\n", "C: QUIT",
		"S: 221 bye\r\n", NULL }, "FAIL 76" },
	{ "DSN not offered: the session", 0, 0, 0, "never", NULL, 0, 0, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_PLAIN, "C: QUIT",
		"S: 221 bye\r\n", NULL }, "FAIL 69" },
	{ "over SIZE: the message", 0, 0, 0, NULL, NULL, 0, 0, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost",
		"S: 250-fake\r\n250 SIZE 99\r\n", "C: QUIT", "S: 221 bye\r\n",
		NULL }, "FAIL 69" },
};

static const struct texpect scope_expect[] = {
	{ OUTCOME_SESSION, 0, NULL, NULL, 0, 0, 0 },
	{ OUTCOME_SESSION, 0, NULL, NULL, 0, 0, 0 },
	{ OUTCOME_MESSAGE, 0, NULL, NULL, 0, 0, 0 },
	{ OUTCOME_SESSION, 0, NULL, NULL, 0, 0, 0 },
	{ OUTCOME_RECIPIENT, 0, NULL, NULL, 0, 0, 0 },
	{ OUTCOME_SESSION, 1, NULL, NULL, 0, 0, 0 },
	{ OUTCOME_MESSAGE, 0, NULL, NULL, 0, 0, 0 },
	{ OUTCOME_SESSION, 1, NULL, NULL, 0, 0, 0 },
	{ OUTCOME_SESSION, 0, NULL, NULL, 0, 0, 0 },
	{ OUTCOME_MESSAGE, 0, NULL, NULL, 0, 0, 0 },
};

static void test_failure_scopes(void **state)
{
	size_t i;

	(void)state;
	assert_int_equal(sizeof scope_cases / sizeof scope_cases[0],
			 sizeof scope_expect / sizeof scope_expect[0]);
	for (i = 0; i < sizeof scope_cases / sizeof scope_cases[0]; i++)
		run_case_x(&scope_cases[i], &scope_expect[i]);
}

/* UTF-8 envelopes: A-labels for a server without SMTPUTF8 when the local
 * part allows; otherwise the message is refused before MAIL. */
static void test_utf8_envelope(void **state)
{
	static char *idn[] = { "bob@m\xc3\xbcnchen.example" };
	static char *local8[] = { "j\xc3\xbcrgen@example.net" };
	static const struct tcase alabel = { "A-labels", 0, 0, 0, NULL, NULL,
		0, 0, 1, { "S: 220 hi\r\n", "C: EHLO localhost", EHLO_NOUTF8,
		"C: MAIL FROM:<s@xn--bcher-kva.example>",
		"C: RCPT TO:<bob@xn--mnchen-3ya.example>", "C: DATA",
		"S: 250 ok\r\n", "S: 250 ok\r\n", "S: 354 go\r\n", "BODY",
		"S: 250 ok\r\n", "C: QUIT", "S: 221 bye\r\n", NULL }, "DONE" };
	static const struct tcase utf8 = { "SMTPUTF8 offered", 0, 0, 0, NULL,
		NULL, 0, 0, 1, { "S: 220 hi\r\n", "C: EHLO localhost", EHLO_UTF8,
		"C: MAIL FROM:<s@b\xc3\xbc" "cher.example> SMTPUTF8",
		"C: RCPT TO:<bob@m\xc3\xbcnchen.example>", "C: DATA",
		"S: 250 ok\r\n", "S: 250 ok\r\n", "S: 354 go\r\n", "BODY",
		"S: 250 ok\r\n", "C: QUIT", "S: 221 bye\r\n", NULL }, "DONE" };
	static const struct tcase refused = { "UTF-8 local part", 0, 0, 0,
		NULL, NULL, 0, 0, 1, { "S: 220 hi\r\n", "C: EHLO localhost",
		EHLO_NOUTF8, "C: QUIT", "S: 221 bye\r\n", NULL }, "FAIL 65" };
	const struct texpect x1 = { -1, -1, "s@b\xc3\xbc" "cher.example", idn, 1,
				    0, 0 };
	const struct texpect x2 = { OUTCOME_MESSAGE, -1, NULL, local8, 1, 0, 0 };

	(void)state;
	run_case_x(&alabel, &x1);
	run_case_x(&utf8, &x1);
	run_case_x(&refused, &x2);
}

/* OAuth2: a refused token that looked valid gets one more AUTH (the
 * driver brings a fresh token); a second refusal ends the session.  A
 * password account refused with 5.7.139 is told about OAuth2. */
static void test_auth_retry(void **state)
{
#define EHLO_XO "S: 250-fake\r\n250-PIPELINING\r\n250 AUTH XOAUTH2\r\n"
	static const struct tcase once = { "retry once", 0, 2, 0, NULL, NULL, 0,
		0, 1, { "S: 220 hi\r\n", "C: EHLO localhost", EHLO_XO,
		"AUTHBEGIN XOAUTH2 b2xk", "C: AUTH XOAUTH2 b2xk",
		"S: 535 5.7.8 bad token\r\n", "RETRY",
		"AUTHBEGIN XOAUTH2 bmV3", "C: AUTH XOAUTH2 bmV3",
		"S: 235 ok\r\n", "C: MAIL FROM:<s@x.test>",
		"C: RCPT TO:<a@x.test>", "C: DATA", "S: 250 ok\r\n",
		"S: 250 ok\r\n", "S: 354 go\r\n", "BODY", "S: 250 ok\r\n",
		"C: QUIT", "S: 221 bye\r\n", NULL }, "DONE" };
	static const struct tcase twice = { "refused twice", 0, 2, 0, NULL,
		NULL, 0, 0, 1, { "S: 220 hi\r\n", "C: EHLO localhost", EHLO_XO,
		"AUTHBEGIN XOAUTH2 b2xk", "C: AUTH XOAUTH2 b2xk",
		"S: 535 5.7.8 bad token\r\n", "RETRY",
		"AUTHBEGIN XOAUTH2 bmV3", "C: AUTH XOAUTH2 bmV3",
		"S: 535 5.7.8 bad token\r\n", "C: QUIT", "S: 221 bye\r\n",
		NULL }, "FAIL 77" };
	static const struct tcase noretry = { "no retry for a fresh token", 0,
		2, 0, NULL, NULL, 0, 0, 1, { "S: 220 hi\r\n",
		"C: EHLO localhost", EHLO_XO, "AUTHBEGIN XOAUTH2 b2xk",
		"C: AUTH XOAUTH2 b2xk", "S: 535 5.7.8 bad token\r\n", "C: QUIT",
		"S: 221 bye\r\n", NULL }, "FAIL 77" };
	const struct texpect retry = { OUTCOME_SESSION, -1, NULL, NULL, 0, 1, 1 };
	const struct texpect fresh = { OUTCOME_SESSION, -1, NULL, NULL, 0, 1, 0 };

	(void)state;
	run_case_x(&once, &retry);
	run_case_x(&twice, &retry);
	run_case_x(&noretry, &fresh);
#undef EHLO_XO
}

static void test_basic_auth_disabled_hint(void **state)
{
	static char *r1[] = { "a@x.test" };
	static const char *script[] = { "220 hi\r\n",
		"250-fake\r\n250 AUTH PLAIN\r\n",
		"535 5.7.139 Authentication unsuccessful, basic authentication "
		"is disabled\r\n", NULL };
	struct smtp_params p;
	struct smtp_session *s;
	struct reply_reader rr;
	struct reply r;
	struct err e;
	enum smtp_want w;
	size_t i;

	(void)state;
	memset(&p, 0, sizeof p);
	p.helo_domain = "h";
	p.from = "f@x";
	p.rcpts = r1;
	p.nrcpts = 1;
	p.auth = 1;
	err_init(&e);
	s = smtp_new(&p, &e);
	reply_reader_init(&rr);
	reply_init(&r);
	w = smtp_start(s);
	for (i = 0; script[i]; i++) {
		if (w == SMTP_WANT_AUTH)
			w = smtp_auth_begin(s, "PLAIN", "eA==");
		assert_int_equal(w, SMTP_WANT_REPLY);
		reply_feed(&rr, script[i], strlen(script[i]), &e);
		assert_int_equal(reply_take(&rr, &r, &e), 1);
		w = smtp_on_reply(s, &r, &e);
	}
	assert_int_equal(e.code, ERR_NOPERM);
	assert_non_null(strstr(e.msg, "5.7.139"));
	assert_non_null(strstr(e.msg, "--oauth2-login"));
	reply_free(&r);
	reply_reader_free(&rr);
	smtp_free(s);
}

#define EHLO_CHUNK "S: 250-fake\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n250 CHUNKING\r\n"
#define EHLO_CHUNK_NOPIPE "S: 250-fake\r\n250-8BITMIME\r\n250 CHUNKING\r\n"
#define ENVELOPE2 "C: MAIL FROM:<s@x.test> SIZE=100", "C: RCPT TO:<a@x.test>", \
	"C: RCPT TO:<b@x.test>", "S: 250 ok\r\n", "S: 250 ok\r\n", "S: 250 ok\r\n"

/* BDAT (RFC 3030): the envelope pipelined and every reply read before
 * the first chunk; then chunks, at most two unanswered with PIPELINING,
 * one without, and LAST only once every earlier chunk is answered.  The
 * reply to LAST is the reply to the end of data. */
static const struct tcase bdat_cases[] = {
	{ "one LAST chunk", 0, 0, 0, NULL, NULL, 0, 0, 2, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_CHUNK, ENVELOPE2,
		"OFFER 100 LAST", "C: BDAT 100 LAST", "SENT",
		"S: 250 2.0.0 queued\r\n", "C: QUIT", "S: 221 bye\r\n", NULL },
	  "DONE" },
	{ "three chunks, two in flight, LAST waits", 0, 0, 0, NULL, NULL, 0,
	  0, 2, { "S: 220 hi\r\n", "C: EHLO localhost", EHLO_CHUNK, ENVELOPE2,
		"OFFER 40", "C: BDAT 40", "SENT", "OFFER 40", "C: BDAT 40",
		"SENT", "S: 250 40 octets\r\n", "OFFER 20 LAST",
		"S: 250 80 octets\r\n", "OFFER 20 LAST", "C: BDAT 20 LAST",
		"SENT", "S: 250 queued\r\n", "C: QUIT", "S: 221 bye\r\n", NULL },
	  "DONE" },
	{ "no PIPELINING: lock-step", 0, 0, 0, NULL, NULL, 0, 0, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_CHUNK_NOPIPE,
		"C: MAIL FROM:<s@x.test>", "S: 250 ok\r\n",
		"C: RCPT TO:<a@x.test>", "S: 250 ok\r\n", "OFFER 50",
		"C: BDAT 50", "SENT", "S: 250 ok\r\n", "OFFER 50", "C: BDAT 50",
		"SENT", "S: 250 ok\r\n", "OFFER 7 LAST", "C: BDAT 7 LAST",
		"SENT", "S: 250 ok\r\n", "C: QUIT", "S: 221 bye\r\n", NULL },
	  "DONE" },
	{ "an empty LAST chunk", 0, 0, 0, NULL, NULL, 0, 0, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_CHUNK_NOPIPE,
		"C: MAIL FROM:<s@x.test>", "S: 250 ok\r\n",
		"C: RCPT TO:<a@x.test>", "S: 250 ok\r\n", "OFFER 0 LAST",
		"C: BDAT 0 LAST", "SENT", "S: 250 ok\r\n", "C: QUIT",
		"S: 221 bye\r\n", NULL }, "DONE" },
	{ "8bit body: BODY=8BITMIME", 0, 0, 0, NULL, NULL, 1, 0, 1, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_CHUNK,
		"C: MAIL FROM:<s@x.test> SIZE=100 BODY=8BITMIME",
		"C: RCPT TO:<a@x.test>", "S: 250 ok\r\n", "S: 250 ok\r\n",
		"OFFER 100 LAST", "C: BDAT 100 LAST", "SENT", "S: 250 ok\r\n",
		"C: QUIT", "S: 221 bye\r\n", NULL }, "DONE" },
	{ "middle chunk 552, LAST held back", 0, 0, 0, NULL, NULL, 0, 0, 2, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_CHUNK, ENVELOPE2,
		"OFFER 40", "C: BDAT 40", "SENT", "OFFER 40", "C: BDAT 40",
		"SENT", "S: 250 ok\r\n", "OFFER 40 LAST",
		"S: 552 5.3.4 message too big\r\n", "C: RSET", "C: QUIT",
		"S: 250 ok\r\n", "S: 221 bye\r\n", NULL }, "FAIL 69" },
	{ "first chunk 451 with the second in flight", 0, 0, 0, NULL, NULL, 0,
	  0, 2, { "S: 220 hi\r\n", "C: EHLO localhost", EHLO_CHUNK, ENVELOPE2,
		"OFFER 40", "C: BDAT 40", "SENT", "OFFER 40", "C: BDAT 40",
		"SENT", "S: 451 4.3.0 disk full\r\n", "C: RSET", "C: QUIT",
		"S: 503 5.5.1 no transaction\r\n", "S: 250 ok\r\n",
		"S: 221 bye\r\n", NULL }, "FAIL 75" },
	{ "chunk refused without PIPELINING: RSET, then QUIT", 0, 0, 0, NULL,
	  NULL, 0, 0, 1, { "S: 220 hi\r\n", "C: EHLO localhost",
		EHLO_CHUNK_NOPIPE, "C: MAIL FROM:<s@x.test>", "S: 250 ok\r\n",
		"C: RCPT TO:<a@x.test>", "S: 250 ok\r\n", "OFFER 50",
		"C: BDAT 50", "SENT", "S: 554 5.6.0 bad content\r\n",
		"C: RSET", "S: 250 ok\r\n", "C: QUIT", "S: 221 bye\r\n", NULL },
	  "FAIL 69" },
	{ "LAST 221: maybe delivered", 0, 0, 0, NULL, NULL, 0, 0, 2, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_CHUNK, ENVELOPE2,
		"OFFER 100 LAST", "C: BDAT 100 LAST", "SENT",
		"S: 221 2.0.0 closing\r\n", "C: QUIT", "S: 221 bye\r\n", NULL },
	  "FAIL 76" },
	{ "LAST 554: the message", 0, 0, 0, NULL, NULL, 0, 0, 2, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_CHUNK, ENVELOPE2,
		"OFFER 40", "C: BDAT 40", "SENT", "OFFER 40 LAST",
		"S: 250 ok\r\n", "OFFER 40 LAST", "C: BDAT 40 LAST", "SENT",
		"S: 554 5.7.1 spam\r\n", "C: QUIT", "S: 221 bye\r\n", NULL },
	  "FAIL 69" },
	{ "LAST 451", 0, 0, 0, NULL, NULL, 0, 0, 2, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_CHUNK, ENVELOPE2,
		"OFFER 100 LAST", "C: BDAT 100 LAST", "SENT",
		"S: 451 4.3.0 later\r\n", "C: QUIT", "S: 221 bye\r\n", NULL },
	  "FAIL 75" },
	{ "one rcpt refused: no chunk at all", 0, 0, 0, NULL, NULL, 0, 0, 2, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_CHUNK,
		"C: MAIL FROM:<s@x.test> SIZE=100", "C: RCPT TO:<a@x.test>",
		"C: RCPT TO:<b@x.test>", "S: 250 ok\r\n", "S: 250 ok\r\n",
		"S: 550 5.1.1 no\r\n", "C: RSET", "C: QUIT", "S: 250 ok\r\n",
		"S: 221 bye\r\n", NULL }, "FAIL 65" },
	{ "MAIL refused: no chunk at all", 0, 0, 0, NULL, NULL, 0, 0, 2, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_CHUNK,
		"C: MAIL FROM:<s@x.test> SIZE=100", "C: RCPT TO:<a@x.test>",
		"C: RCPT TO:<b@x.test>", "S: 550 5.1.8 no\r\n",
		"S: 503 need MAIL\r\n", "S: 503 need MAIL\r\n", "C: RSET",
		"C: QUIT", "S: 250 ok\r\n", "S: 221 bye\r\n", NULL }, "FAIL 65" },
	{ "partial delivery", 0, 0, 1, NULL, NULL, 0, 0, 2, {
		"S: 220 hi\r\n", "C: EHLO localhost", EHLO_CHUNK_NOPIPE,
		"C: MAIL FROM:<s@x.test>", "S: 250 ok\r\n",
		"C: RCPT TO:<a@x.test>", "S: 550 no\r\n",
		"C: RCPT TO:<b@x.test>", "S: 250 ok\r\n", "OFFER 10 LAST",
		"C: BDAT 10 LAST", "SENT", "S: 250 ok\r\n", "C: QUIT",
		"S: 221 bye\r\n", NULL }, "FAIL 65" },
	{ "LMTP: one reply per chunk, per recipient after LAST", 0, 1, 0,
	  NULL, NULL, 0, 0, 2, { "S: 220 hi\r\n", "C: LHLO localhost",
		EHLO_CHUNK, ENVELOPE2, "OFFER 10", "C: BDAT 10", "SENT",
		"OFFER 5 LAST", "S: 250 10 octets\r\n", "OFFER 5 LAST",
		"C: BDAT 5 LAST", "SENT", "S: 250 ok a\r\n",
		"S: 452 4.2.2 full b\r\n", "C: QUIT", "S: 221 bye\r\n", NULL },
	  "FAIL 75" },
	{ "LMTP: every recipient 250", 0, 1, 0, NULL, NULL, 0, 0, 2, {
		"S: 220 hi\r\n", "C: LHLO localhost", EHLO_CHUNK, ENVELOPE2,
		"OFFER 10 LAST", "C: BDAT 10 LAST", "SENT", "S: 250 ok a\r\n",
		"S: 250 ok b\r\n", "C: QUIT", "S: 221 bye\r\n", NULL }, "DONE" },
	{ "LMTP: chunk refused, one reply", 0, 1, 0, NULL, NULL, 0, 0, 2, {
		"S: 220 hi\r\n", "C: LHLO localhost", EHLO_CHUNK, ENVELOPE2,
		"OFFER 10", "C: BDAT 10", "SENT", "OFFER 5 LAST",
		"S: 552 5.3.4 too big\r\n", "C: RSET", "C: QUIT",
		"S: 250 ok\r\n", "S: 221 bye\r\n", NULL }, "FAIL 69" },
};

static const struct texpect bdat_expect[] = {
	{ -1, 0, NULL, NULL, 0, 0, 0 },
	{ -1, 0, NULL, NULL, 0, 0, 0 },
	{ -1, 0, NULL, NULL, 0, 0, 0 },
	{ -1, 0, NULL, NULL, 0, 0, 0 },
	{ -1, 0, NULL, NULL, 0, 0, 0 },
	{ OUTCOME_MESSAGE, 0, NULL, NULL, 0, 0, 0 },
	{ OUTCOME_MESSAGE, 0, NULL, NULL, 0, 0, 0 },
	{ OUTCOME_MESSAGE, 0, NULL, NULL, 0, 0, 0 },
	{ OUTCOME_SESSION, 1, NULL, NULL, 0, 0, 0 },
	{ OUTCOME_MESSAGE, 0, NULL, NULL, 0, 0, 0 },
	{ OUTCOME_MESSAGE, 0, NULL, NULL, 0, 0, 0 },
	{ OUTCOME_RECIPIENT, 0, NULL, NULL, 0, 0, 0 },
	{ OUTCOME_MESSAGE, 0, NULL, NULL, 0, 0, 0 },
	{ OUTCOME_RECIPIENT, 0, NULL, NULL, 0, 0, 0 },
	{ OUTCOME_RECIPIENT, 0, NULL, NULL, 0, 0, 0 },
	{ -1, 0, NULL, NULL, 0, 0, 0 },
	{ OUTCOME_MESSAGE, 0, NULL, NULL, 0, 0, 0 },
};

static void test_bdat_transcripts(void **state)
{
	size_t i;

	(void)state;
	assert_int_equal(sizeof bdat_cases / sizeof bdat_cases[0],
			 sizeof bdat_expect / sizeof bdat_expect[0]);
	g_chunking = 1;
	for (i = 0; i < sizeof bdat_cases / sizeof bdat_cases[0]; i++)
		run_case_x(&bdat_cases[i], &bdat_expect[i]);
	g_chunking = 0;
}

/* `chunking off`, or a server without CHUNKING: DATA as before. */
static void test_bdat_not_used(void **state)
{
	static const struct tcase off = { "chunking off", 0, 0, 0, NULL, NULL,
		0, 0, 1, { "S: 220 hi\r\n", "C: EHLO localhost", EHLO_CHUNK,
		"C: MAIL FROM:<s@x.test> SIZE=100", "C: RCPT TO:<a@x.test>",
		"C: DATA", "S: 250 ok\r\n", "S: 250 ok\r\n", "S: 354 go\r\n",
		"BODY", "S: 250 ok\r\n", "C: QUIT", "S: 221 bye\r\n", NULL },
		"DONE" };
	static const struct tcase notoffered = { "CHUNKING not offered", 0, 0,
		0, NULL, NULL, 0, 0, 1, { "S: 220 hi\r\n", "C: EHLO localhost",
		EHLO_PIPE, "C: MAIL FROM:<s@x.test> SIZE=100",
		"C: RCPT TO:<a@x.test>", "C: DATA", "S: 250 ok\r\n",
		"S: 250 ok\r\n", "S: 354 go\r\n", "BODY", "S: 250 ok\r\n",
		"C: QUIT", "S: 221 bye\r\n", NULL }, "DONE" };

	(void)state;
	g_chunking = 0;
	run_case(&off);
	g_chunking = 1;
	run_case(&notoffered);
	g_chunking = 0;
}

/* Feed one scripted reply. */
static enum smtp_want feed_reply(struct smtp_session *s,
				 struct reply_reader *rr, struct reply *r,
				 const char *text, struct err *e)
{
	smtp_out_clear(s);
	assert_int_equal(reply_feed(rr, text, strlen(text), e), 0);
	assert_int_equal(reply_take(rr, r, e), 1);
	return smtp_on_reply(s, r, e);
}

/* Only the reply to LAST is the reply to the end of data (a connection
 * lost then may have delivered the message); a refused chunk names its
 * number and is the reply the log shows. */
static void test_bdat_stages(void **state)
{
	struct smtp_params p;
	struct smtp_session *s;
	struct reply_reader rr;
	struct reply r;
	struct err e;
	enum smtp_want w;
	const char *text;

	(void)state;
	memset(&p, 0, sizeof p);
	p.helo_domain = "h";
	p.from = "f@x";
	p.rcpts = rcpts;
	p.nrcpts = 1;
	p.chunking = 1;
	err_init(&e);
	s = smtp_new(&p, &e);
	reply_reader_init(&rr);
	reply_init(&r);
	smtp_start(s);
	feed_reply(s, &rr, &r, "220 hi\r\n", &e);
	feed_reply(s, &rr, &r, "250-f\r\n250-PIPELINING\r\n250 CHUNKING\r\n", &e);
	feed_reply(s, &rr, &r, "250 ok\r\n", &e);
	w = feed_reply(s, &rr, &r, "250 ok\r\n", &e);
	assert_int_equal(w, SMTP_WANT_CHUNK);
	assert_string_equal(smtp_stage(s), "message body");
	assert_int_equal(smtp_bdat(s, 10, 0), SMTP_WANT_CHUNK_SEND);
	assert_int_equal(smtp_chunk_sent(s), SMTP_WANT_CHUNK);
	assert_int_equal(smtp_awaiting_eod(s), 0);
	assert_string_equal(smtp_stage(s), "BDAT");
	w = feed_reply(s, &rr, &r, "250 ok\r\n", &e);
	assert_int_equal(w, SMTP_WANT_CHUNK);
	assert_int_equal(smtp_bdat(s, 10, 1), SMTP_WANT_CHUNK_SEND);
	assert_int_equal(smtp_awaiting_eod(s), 0);  /* not sent yet */
	assert_int_equal(smtp_chunk_sent(s), SMTP_WANT_REPLY);
	assert_int_equal(smtp_awaiting_eod(s), 1);
	assert_string_equal(smtp_stage(s), "end of data");
	smtp_free(s);

	/* a refused second chunk */
	err_init(&e);
	s = smtp_new(&p, &e);
	smtp_start(s);
	feed_reply(s, &rr, &r, "220 hi\r\n", &e);
	feed_reply(s, &rr, &r, "250-f\r\n250 CHUNKING\r\n", &e);
	feed_reply(s, &rr, &r, "250 ok\r\n", &e);
	feed_reply(s, &rr, &r, "250 ok\r\n", &e);
	smtp_bdat(s, 10, 0);
	smtp_chunk_sent(s);
	feed_reply(s, &rr, &r, "250 ok\r\n", &e);
	smtp_bdat(s, 10, 0);
	smtp_chunk_sent(s);
	w = feed_reply(s, &rr, &r, "552 5.3.4 too big\r\n", &e);
	assert_int_equal(w, SMTP_WANT_REPLY);
	assert_int_equal(e.code, ERR_UNAVAILABLE);
	assert_non_null(strstr(e.msg, "chunk 2"));
	assert_non_null(strstr(e.msg, "552 5.3.4 too big"));
	feed_reply(s, &rr, &r, "250 reset\r\n", &e);
	assert_int_equal(smtp_last_reply(s, &text), 552);
	assert_int_equal(smtp_delivered(s), 0);
	smtp_free(s);
	reply_free(&r);
	reply_reader_free(&rr);
}

/* Queue runs (without PIPELINING here): a message whose first chunk is
 * refused is reset, the next one goes over the same session. */
static void test_bdat_multi(void **state)
{
	static char *r1[] = { "a@x.test" };
	static const char *script[] = {
		"220 hi\r\n", "250-f\r\n250 CHUNKING\r\n",
		"250 ok\r\n", "250 ok\r\n", "554 5.6.0 no\r\n", "250 reset\r\n",
		"250 ok\r\n", "250 ok\r\n", "250 queued\r\n", "221 bye\r\n", NULL
	};
	static const char *want =
		"EHLO h\r\n"
		"MAIL FROM:<f@x>\r\nRCPT TO:<a@x.test>\r\nBDAT 5\r\n"
		"RSET\r\n"
		"MAIL FROM:<g@x>\r\nRCPT TO:<a@x.test>\r\nBDAT 5 LAST\r\n"
		"QUIT\r\n";
	struct smtp_params p, m;
	struct smtp_session *s;
	struct reply_reader rr;
	struct reply r;
	struct err e;
	enum smtp_want w;
	char wire[2048] = "";
	size_t i = 0, o = 0;
	int msgs = 0, failures = 0;

	(void)state;
	memset(&p, 0, sizeof p);
	p.helo_domain = "h";
	p.multi = 1;
	p.chunking = 1;
	err_init(&e);
	s = smtp_new(&p, &e);
	reply_reader_init(&rr);
	reply_init(&r);
	w = smtp_start(s);
	for (;;) {
		const struct buf *out = smtp_out(s);

		memcpy(wire + o, buf_str(out), out->len);
		o += out->len;
		smtp_out_clear(s);
		if (w == SMTP_WANT_NEXT) {
			if (msgs > 0)
				failures += err_isset(&e) || !smtp_delivered(s);
			err_init(&e);
			if (msgs == 2) {
				w = smtp_finish(s);
				msgs++;
				continue;
			}
			memset(&m, 0, sizeof m);
			m.rcpts = r1;
			m.nrcpts = 1;
			m.from = msgs == 0 ? "f@x" : "g@x";
			msgs++;
			w = smtp_next_message(s, &m, &e);
			continue;
		}
		if (w == SMTP_WANT_CHUNK) {
			w = smtp_bdat(s, 5, msgs == 2);
			continue;
		}
		if (w == SMTP_WANT_CHUNK_SEND) {
			w = smtp_chunk_sent(s);
			continue;
		}
		if (w != SMTP_WANT_REPLY)
			break;
		assert_non_null(script[i]);
		reply_feed(&rr, script[i], strlen(script[i]), &e);
		i++;
		assert_int_equal(reply_take(&rr, &r, &e), 1);
		w = smtp_on_reply(s, &r, &e);
	}
	wire[o] = '\0';
	assert_int_equal(w, SMTP_WANT_DONE);
	assert_string_equal(wire, want);
	assert_int_equal(failures, 1);
	assert_null(script[i]);
	reply_free(&r);
	reply_reader_free(&rr);
	smtp_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transcripts),
		cmocka_unit_test(test_auth_redaction),
		cmocka_unit_test(test_multi_session),
		cmocka_unit_test(test_refused_message_names_all),
		cmocka_unit_test(test_failure_scopes),
		cmocka_unit_test(test_utf8_envelope),
		cmocka_unit_test(test_auth_retry),
		cmocka_unit_test(test_basic_auth_disabled_hint),
		cmocka_unit_test(test_bdat_transcripts),
		cmocka_unit_test(test_bdat_not_used),
		cmocka_unit_test(test_bdat_stages),
		cmocka_unit_test(test_bdat_multi),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
