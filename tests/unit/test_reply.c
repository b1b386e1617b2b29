/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "reply.h"

/* Feed `in` (optionally byte by byte) and take one reply. */
static int take_one(const char *in, size_t len, int bytewise, struct reply *r,
		    struct err *e)
{
	struct reply_reader rr;
	size_t i;
	int got = 0;

	reply_reader_init(&rr);
	if (bytewise) {
		for (i = 0; i < len && got == 0; i++) {
			if (reply_feed(&rr, in + i, 1, e) < 0) {
				got = -1;
				break;
			}
			got = reply_take(&rr, r, e);
		}
	} else {
		got = reply_feed(&rr, in, len, e);
		if (got == 0)
			got = reply_take(&rr, r, e);
	}
	reply_reader_free(&rr);
	return got;
}

struct good_case {
	const char *in;
	int code;
	size_t nlines;
	const char *enh;
	const char *oneline;
};

static const struct good_case goods[] = {
	{ "220 fake.test ESMTP\r\n", 220, 1, "", "220 fake.test ESMTP" },
	{ "250 2.1.0 Ok\r\n", 250, 1, "2.1.0", "250 2.1.0 Ok" },
	{ "550 5.1.1 no such user\n", 550, 1, "5.1.1", "550 5.1.1 no such user" },
	{ "250-a\r\n250-b\r\n250 c\r\n", 250, 3, "", "250-a / b / c" },
	{ "354\r\n", 354, 1, "", "354" },
	{ "550 2.1.1 wrong class\r\n", 550, 1, "", "550 2.1.1 wrong class" },
	{ "451 4.3.0 x\r\n", 451, 1, "4.3.0", "451 4.3.0 x" },
};

static void test_good_replies(void **state)
{
	size_t i;
	int bw;

	(void)state;
	for (i = 0; i < sizeof goods / sizeof goods[0]; i++) {
		for (bw = 0; bw <= 1; bw++) {
			struct reply r;
			struct err e;
			char one[256];

			err_init(&e);
			reply_init(&r);
			assert_int_equal(take_one(goods[i].in, strlen(goods[i].in),
						  bw, &r, &e), 1);
			assert_int_equal(r.code, goods[i].code);
			assert_int_equal(r.nlines, goods[i].nlines);
			assert_string_equal(r.enh, goods[i].enh);
			reply_oneline(&r, one, sizeof one);
			assert_string_equal(one, goods[i].oneline);
			reply_free(&r);
		}
	}
}

static const char *bads[] = {
	"abc\r\n", "600 no\r\n", "199 no\r\n", "25 short\r\n", "250x\r\n",
	"250-a\r\n251 b\r\n", "2a0 x\r\n",
};

static void test_bad_replies(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bads / sizeof bads[0]; i++) {
		struct reply r;
		struct err e;

		err_init(&e);
		reply_init(&r);
		assert_int_equal(take_one(bads[i], strlen(bads[i]), 0, &r, &e), -1);
		assert_int_equal(e.code, ERR_PROTOCOL);
		/* the error is one line: nothing of the raw input leaks */
		assert_null(strchr(e.msg, '\r'));
		assert_null(strchr(e.msg, '\n'));
		reply_free(&r);
	}
}

static void test_nul_overlong_toomany(void **state)
{
	struct reply r;
	struct err e;
	char big[REPLY_LINE_MAX + 64];
	static char many[(REPLY_LINES_MAX + 2) * 8];
	size_t i, o = 0;

	(void)state;
	reply_init(&r);
	err_init(&e);
	assert_int_equal(take_one("250 a\0b\r\n", 9, 0, &r, &e), -1);
	assert_int_equal(e.code, ERR_PROTOCOL);

	memset(big, 'x', sizeof big);
	memcpy(big, "250 ", 4);
	err_init(&e);
	assert_int_equal(take_one(big, sizeof big, 1, &r, &e), -1);
	assert_int_equal(e.code, ERR_PROTOCOL);

	/* exactly at the limit is fine */
	memset(big, 'y', REPLY_LINE_MAX);
	memcpy(big, "250 ", 4);
	memcpy(big + REPLY_LINE_MAX, "\r\n", 2);
	err_init(&e);
	assert_int_equal(take_one(big, REPLY_LINE_MAX + 2, 0, &r, &e), 1);

	for (i = 0; i < REPLY_LINES_MAX + 1; i++) {
		memcpy(many + o, "250-xx\r\n", 8);
		o += 8;
	}
	memcpy(many + o, "250 xx\r\n", 8);
	o += 8;
	err_init(&e);
	assert_int_equal(take_one(many, o, 0, &r, &e), -1);
	assert_int_equal(e.code, ERR_PROTOCOL);
	reply_free(&r);
}

static void test_pending_and_sequence(void **state)
{
	struct reply_reader rr;
	struct reply r;
	struct err e;
	const char *in = "220 hi\r\n250 ok\r\nxyz";

	(void)state;
	err_init(&e);
	reply_reader_init(&rr);
	reply_init(&r);
	assert_int_equal(reply_feed(&rr, in, strlen(in), &e), 0);
	assert_int_equal(reply_take(&rr, &r, &e), 1);
	assert_int_equal(r.code, 220);
	assert_int_equal(reply_take(&rr, &r, &e), 1);
	assert_int_equal(r.code, 250);
	assert_int_equal(reply_take(&rr, &r, &e), 0);
	assert_int_equal(reply_pending(&rr), 3);
	reply_free(&r);
	reply_reader_free(&rr);
}

static void test_ehlo_caps(void **state)
{
	const char *in = "250-mail.example.org hello\r\n250-PIPELINING\r\n"
		"250-SIZE 10240000\r\n250-8bitmime\r\n250-AUTH PLAIN LOGIN\r\n"
		"250-AUTH=LOGIN CRAM-MD5\r\n250-DSN\r\n250-STARTTLS\r\n"
		"250-SMTPUTF8\r\n250-CHUNKING\r\n250-PIPELININGX\r\n"
		"250 ENHANCEDSTATUSCODES\r\n";
	struct reply r;
	struct err e;
	struct smtp_caps c;

	(void)state;
	err_init(&e);
	reply_init(&r);
	assert_int_equal(take_one(in, strlen(in), 0, &r, &e), 1);
	reply_parse_ehlo(&r, &c);
	assert_string_equal(c.name, "mail.example.org");
	assert_true(c.pipelining && c.eightbitmime && c.dsn && c.starttls);
	assert_true(c.smtputf8 && c.chunking && c.enhancedstatuscodes && c.size);
	assert_int_equal(c.size_max, 10240000);
	assert_true(c.auth);
	assert_string_equal(c.auth_mechs, "PLAIN LOGIN CRAM-MD5");
	assert_false(c.etrn);
	reply_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_replies),
		cmocka_unit_test(test_bad_replies),
		cmocka_unit_test(test_nul_overlong_toomany),
		cmocka_unit_test(test_pending_and_sequence),
		cmocka_unit_test(test_ehlo_caps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
