/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"

static void test_append_and_cap(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_append(&b, "abcd", 4), 0);
	assert_int_equal(buf_append(&b, "efgh", 4), 0);
	assert_string_equal(buf_str(&b), "abcdefgh");
	assert_int_equal(buf_append(&b, "i", 1), -1);
	assert_int_equal(errno, E2BIG);
	assert_int_equal(b.len, 8);
	buf_free(&b);
}

static void test_printf_and_consume(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(buf_printf(&b, "%d-%s", 42, "x"), 0);
	assert_string_equal(buf_str(&b), "42-x");
	buf_consume(&b, 3);
	assert_string_equal(buf_str(&b), "x");
	assert_int_equal(buf_printf(&b, "%0100d", 1), -1);
	assert_string_equal(buf_str(&b), "x");
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_str(&b), "");
	buf_free(&b);
}

static void test_binary_and_steal(void **state)
{
	struct buf b;
	char *s;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(buf_append(&b, "a\0b", 3), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "a\0b", 3);
	s = buf_steal(&b);
	assert_non_null(s);
	assert_int_equal(b.len, 0);
	assert_null(b.data);
	free(s);
	assert_string_equal(buf_str(&b), "");
}

static void test_err_first_wins(void **state)
{
	struct err e;

	(void)state;
	err_init(&e);
	assert_false(err_isset(&e));
	assert_int_equal(err_set(&e, ERR_TEMPFAIL, "low %d", 1), -1);
	err_set(&e, ERR_CONFIG, "high");
	assert_int_equal(e.code, ERR_TEMPFAIL);
	assert_string_equal(e.msg, "low 1");
	err_prefix(&e, "while %s", "x");
	assert_string_equal(e.msg, "while x: low 1");
	err_recode(&e, ERR_USAGE);
	assert_int_equal(e.code, ERR_USAGE);
	assert_string_equal(err_code_name(ERR_TEMPFAIL), "EX_TEMPFAIL");
}

/* Out of memory stays out of memory: a caller that reclassifies a parse
 * failure (pipeline: a recipient -> EX_USAGE, the sender -> EX_CONFIG)
 * must not turn an allocation failure into a wrong diagnosis. */
static void test_err_recode_keeps_oserr(void **state)
{
	struct err e;

	(void)state;
	err_init(&e);
	err_set(&e, ERR_OSERR, "out of memory");
	err_recode(&e, ERR_USAGE);
	assert_int_equal(e.code, ERR_OSERR);
	err_recode(&e, ERR_CONFIG);
	assert_int_equal(e.code, ERR_OSERR);
	assert_string_equal(e.msg, "out of memory");
}

/* After a failed append: ENOMEM is "out of memory" (EX_OSERR), a ceiling
 * keeps the caller's own diagnosis. */
static void test_err_set_buf(void **state)
{
	struct buf b;
	struct err e;

	(void)state;
	buf_init(&b, 4);
	err_init(&e);
	assert_int_equal(buf_append_str(&b, "too long"), -1);
	assert_int_equal(err_set_buf(&e, ERR_PROTOCOL, "line too long"), -1);
	assert_int_equal(e.code, ERR_PROTOCOL);
	assert_string_equal(e.msg, "line too long");
	err_init(&e);
	errno = ENOMEM;
	err_set_buf(&e, ERR_PROTOCOL, "line too long");
	assert_int_equal(e.code, ERR_OSERR);
	assert_string_equal(e.msg, "out of memory");
	buf_free(&b);
}

/* buf_truncate undoes a half-done append and keeps the NUL. */
static void test_truncate(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 64);
	buf_truncate(&b, 3);            /* unused buffer: nothing to do */
	assert_null(b.data);
	assert_int_equal(buf_append_str(&b, "QUIT"), 0);
	assert_int_equal(buf_append_str(&b, "\r\n"), 0);
	buf_truncate(&b, 4);
	assert_int_equal(b.len, 4);
	assert_string_equal(buf_str(&b), "QUIT");
	buf_truncate(&b, 10);           /* longer: unchanged */
	assert_string_equal(buf_str(&b), "QUIT");
	buf_truncate(&b, 0);
	assert_string_equal(buf_str(&b), "");
	buf_free(&b);
}

/* Shown text straight to a stream, byte for byte as buf_append_shown. */
static void test_fput_shown(void **state)
{
	char got[64];
	size_t n;
	FILE *f = tmpfile();

	(void)state;
	assert_non_null(f);
	buf_fput_shown(f, "a\x1b[2Jb\x7f\xc3\xa9", 9);
	rewind(f);
	n = fread(got, 1, sizeof got - 1, f);
	got[n] = '\0';
	fclose(f);
	assert_string_equal(got, "a\\x1b[2Jb\\x7f\xc3\xa9");
}

static void test_has_word(void **state)
{
	(void)state;
	assert_true(buf_has_word("PLAIN LOGIN", "LOGIN"));
	assert_true(buf_has_word("PLAIN LOGIN", "PLAIN"));
	assert_false(buf_has_word("PLAINX LOGIN", "PLAIN"));
	assert_false(buf_has_word("SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"));
	assert_false(buf_has_word("", "PLAIN"));
	assert_false(buf_has_word("PLAIN", ""));
}

/* ------------------------------------------------------------------ */
/* buf_show: a user's word quoted in a one-line error message          */

#define S(lit) lit, sizeof(lit) - 1

static void test_show(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *want;
	} cases[] = {
		{ S("plain@example.org"), "plain@example.org" },
		{ S(""), "" },
		{ S("a\x1b[2J"), "a\\x1b[2J" },
		{ S("a\r\n\t\x7f\x01"), "a\\x0d\\x0a\\x09\\x7f\\x01" },
		{ S("a\0b"), "a\\x00b" },
		{ "abc", 2, "ab" },
		{ S("j\xc3\xb6rg"), "j\xc3\xb6rg" },
		/* 64 bytes are shown whole, 65 are cut to 64 and "..." */
		{ S("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
		{ S("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaZ"),
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa..." },
		/* the cut never splits a UTF-8 sequence */
		{ S("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9"),
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa..." },
	};
	char out[BUF_SHOW_SIZE];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_ptr_equal(buf_show(out, sizeof out, cases[i].in,
					  cases[i].n), out);
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("case %zu: got \"%s\"", i, out);
	}
}

/* The worst case (64 control bytes and more) fits BUF_SHOW_SIZE; a
 * smaller buffer is never overrun. */
static void test_show_bounds(void **state)
{
	char in[200], out[BUF_SHOW_SIZE + 8], want[BUF_SHOW_SIZE];
	size_t k;

	(void)state;
	memset(in, 0x1b, sizeof in);
	want[0] = '\0';
	for (k = 0; k < BUF_SHOW_MAX; k++)
		memcpy(want + 4 * k, "\\x1b", 5);
	memcpy(want + 4 * BUF_SHOW_MAX, "...", 4);
	buf_show(out, BUF_SHOW_SIZE, in, sizeof in);
	assert_string_equal(out, want);
	memset(out, '#', sizeof out);
	buf_show(out, 7, in, sizeof in);
	assert_true(strlen(out) < 7);
	assert_int_equal(out[7], '#');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_and_cap),
		cmocka_unit_test(test_printf_and_consume),
		cmocka_unit_test(test_binary_and_steal),
		cmocka_unit_test(test_err_first_wins),
		cmocka_unit_test(test_err_recode_keeps_oserr),
		cmocka_unit_test(test_err_set_buf),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_fput_shown),
		cmocka_unit_test(test_has_word),
		cmocka_unit_test(test_show),
		cmocka_unit_test(test_show_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
