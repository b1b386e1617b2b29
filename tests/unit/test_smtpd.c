/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The -bs server engine: sessions as tables (client bytes in; replies,
 * message bodies and envelopes out), and every session fed again cut at
 * every byte position, which must change nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd.h"

struct scase {
	const char *name;
	const char *in;                 /* what the client writes */
	const char *replies;            /* the reply codes, space-separated */
	const char *body;               /* the first message's bytes, or NULL */
	const char *envelope;           /* "from>rcpt,rcpt" of the first */
	int result;                     /* reply code the driver gives */
};

static const struct scase cases[] = {
	{ "one message", "EHLO x\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>"
	  "\r\nDATA\r\nSubject: s\r\n\r\nbody\r\n.\r\nQUIT\r\n",
	  "220 250 250 250 354 250 221", "Subject: s\r\n\r\nbody\r\n",
	  "a@x.test>b@x.test", 250 },
	{ "dots unstuffed, lone dot ends", "HELO x\r\nMAIL FROM:<a@x.test>\r\n"
	  "RCPT TO:<b@x.test>\r\nDATA\r\n..one\r\n...two\r\n.x\r\n.\r\nQUIT\r\n",
	  "220 250 250 250 354 250 221", ".one\r\n..two\r\nx\r\n",
	  "a@x.test>b@x.test", 250 },
	{ "LF line ends", "HELO x\nMAIL FROM:<a@x.test>\nRCPT TO:<b@x.test>\n"
	  "DATA\nline\n..dot\n.\nQUIT\n", "220 250 250 250 354 250 221",
	  "line\n.dot\n", "a@x.test>b@x.test", 250 },
	{ "empty message", "HELO x\r\nMAIL FROM:<>\r\nRCPT TO:<b@x.test>\r\n"
	  "DATA\r\n.\r\nQUIT\r\n", "220 250 250 250 354 250 221", "",
	  ">b@x.test", 250 },
	{ "bare CR and dot-CR kept", "HELO x\r\nMAIL FROM:<a@x.test>\r\n"
	  "RCPT TO:<b@x.test>\r\nDATA\r\na\rb\r\n.\rc\r\n.\r\nQUIT\r\n",
	  "220 250 250 250 354 250 221", "a\rb\r\n\rc\r\n",
	  "a@x.test>b@x.test", 250 },
	{ "source route and params", "EHLO x\r\nMAIL FROM:<@r1,@r2:a@x.test> "
	  "BODY=8BITMIME SMTPUTF8 SIZE=100\r\nRCPT TO:<b@x.test>\r\nDATA\r\n"
	  "x\r\n.\r\nQUIT\r\n", "220 250 250 250 354 451 221", "x\r\n",
	  "a@x.test>b@x.test", 451 },
	{ "refusals and order", "MAIL FROM:<a b>\r\nRCPT TO:<b@x.test>\r\n"
	  "MAIL FROM:<a@x.test> RET=FULL\r\nMAIL FROM:<a@x.test>\r\n"
	  "MAIL FROM:<a@x.test>\r\nRCPT TO:<>\r\nRCPT TO:<b@x.test> NOTIFY=NEVER"
	  "\r\nDATA\r\nRCPT TO b@x.test\r\nRSET\r\nDATA extra\r\nDATA\r\n"
	  "FROB\r\nVRFY x\r\nNOOP\r\nHELP\r\nEXPN x\r\nSTARTTLS\r\nQUIT\r\n",
	  "220 553 503 555 250 503 553 555 554 501 250 501 503 500 252 250 214 "
	  "502 502 221", NULL, NULL, 0 },
	{ "pipelined after the dot", "EHLO x\r\nMAIL FROM:<a@x.test>\r\nRCPT "
	  "TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\nDATA\r\nm\r\n.\r\nRSET\r\n"
	  "QUIT\r\n", "220 250 250 250 250 354 554 250 221", "m\r\n",
	  "a@x.test>b@x.test,c@x.test", 554 },
};

/* Feed `in` cut at `cut` (0: whole), answering messages with `result`;
 * check everything the case says. */
static void run(const struct scase *c, size_t cut)
{
	struct smtpd_session *s;
	struct err e;
	char replies[1024] = "", body[1024] = "", env[512] = "";
	size_t bl = 0, len = strlen(c->in), pos = 0, rl = 0;
	int messages = 0, closed = 0;

	err_init(&e);
	s = smtpd_new("test.host", &e);
	assert_non_null(s);
	smtpd_greet(s);
	while (!closed) {
		enum smtpd_event ev = smtpd_step(s);

		if (ev == SMTPD_EV_BODY) {
			const char *p;
			size_t n;

			smtpd_body(s, &p, &n);
			if (messages == 0 && bl + n < sizeof body) {
				memcpy(body + bl, p, n);
				bl += n;
			}
			continue;
		}
		if (ev == SMTPD_EV_MESSAGE) {
			if (messages++ == 0) {
				size_t n, i;
				char *const *r = smtpd_rcpts(s, &n);
				size_t o = (size_t)snprintf(env, sizeof env, "%s>",
							    smtpd_sender(s));

				for (i = 0; i < n; i++)
					o += (size_t)snprintf(env + o, sizeof env - o,
							      "%s%s", i ? "," : "",
							      r[i]);
			}
			smtpd_message_result(s, c->result, "", "result");
			continue;
		}
		if (ev == SMTPD_EV_CLOSE)
			closed = 1;
		/* collect the codes of complete reply lines */
		{
			const struct buf *out = smtpd_out(s);
			const char *p = out->data ? out->data : "", *end = p + out->len;

			while (p < end) {
				const char *nl = strstr(p, "\r\n");

				if (nl == NULL)
					break;
				if (nl - p >= 4 && p[3] == ' ')
					rl += (size_t)snprintf(replies + rl,
							       sizeof replies - rl,
							       "%s%.3s", rl ? " " : "",
							       p);
				p = nl + 2;
			}
			smtpd_out_clear(s);
		}
		if (closed)
			break;
		if (pos >= len)
			break;
		{
			size_t n = cut ? (pos < cut ? cut - pos : len - pos) : len;

			if (pos + n > len)
				n = len - pos;
			assert_int_equal(smtpd_feed(s, c->in + pos, n, &e), 0);
			pos += n;
		}
	}
	body[bl] = '\0';
	if (strcmp(replies, c->replies) != 0)
		fail_msg("%s (cut %zu): replies '%s', want '%s'", c->name, cut,
			 replies, c->replies);
	if (c->body && (messages < 1 || strcmp(body, c->body) != 0))
		fail_msg("%s (cut %zu): body '%s'", c->name, cut, body);
	if (c->envelope && strcmp(env, c->envelope) != 0)
		fail_msg("%s (cut %zu): envelope '%s'", c->name, cut, env);
	smtpd_free(s);
}

static void test_sessions(void **state)
{
	size_t i, cut;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		run(&cases[i], 0);
		for (cut = 1; cut < strlen(cases[i].in); cut++)
			run(&cases[i], cut);
	}
}

/* A command line longer than SMTPD_LINE_MAX is refused and skipped; the
 * session goes on. */
static void test_long_command_line(void **state)
{
	struct smtpd_session *s;
	struct err e;
	char *line = malloc(3 * SMTPD_LINE_MAX);
	const struct buf *out;

	(void)state;
	err_init(&e);
	s = smtpd_new("h", &e);
	memset(line, 'A', 3 * SMTPD_LINE_MAX - 2);
	memcpy(line + 3 * SMTPD_LINE_MAX - 2, "\r\n", 2);
	smtpd_greet(s);
	smtpd_out_clear(s);
	assert_int_equal(smtpd_feed(s, line, SMTPD_LINE_MAX + 100, &e), 0);
	assert_int_equal(smtpd_step(s), SMTPD_EV_NONE);
	assert_int_equal(smtpd_feed(s, line + SMTPD_LINE_MAX + 100,
				    2 * SMTPD_LINE_MAX - 100, &e), 0);
	assert_int_equal(smtpd_feed(s, "NOOP\r\n", 6, &e), 0);
	assert_int_equal(smtpd_step(s), SMTPD_EV_NONE);
	out = smtpd_out(s);
	assert_string_equal(out->data, "500 5.5.2 Error: line too long or not "
			    "text\r\n250 2.0.0 Ok\r\n");
	smtpd_free(s);
	free(line);
}

/* Twenty refusals in a row end the session with 421. */
static void test_error_limit(void **state)
{
	struct smtpd_session *s;
	struct err e;
	int i;

	(void)state;
	err_init(&e);
	s = smtpd_new("h", &e);
	for (i = 0; i < SMTPD_MAX_ERRORS; i++)
		smtpd_feed(s, "FROB\r\n", 6, &e);
	assert_int_equal(smtpd_step(s), SMTPD_EV_CLOSE);
	assert_non_null(strstr(smtpd_out(s)->data, "421 4.7.0"));
	assert_int_equal(smtpd_quit_seen(s), 0);
	smtpd_free(s);
}

/* A configuration error: the 554 greeting, then the end. */
static void test_refuse_and_timeout(void **state)
{
	struct smtpd_session *s;
	struct err e;

	(void)state;
	err_init(&e);
	s = smtpd_new("h", &e);
	smtpd_refuse(s, "port not set");
	assert_string_equal(smtpd_out(s)->data, "554 5.3.5 h port not set\r\n");
	assert_int_equal(smtpd_step(s), SMTPD_EV_CLOSE);
	smtpd_free(s);
	s = smtpd_new("h", &e);
	smtpd_timeout(s);
	assert_non_null(strstr(smtpd_out(s)->data, "421 4.4.2"));
	assert_int_equal(smtpd_step(s), SMTPD_EV_CLOSE);
	smtpd_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sessions),
		cmocka_unit_test(test_long_command_line),
		cmocka_unit_test(test_error_limit),
		cmocka_unit_test(test_refuse_and_timeout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
