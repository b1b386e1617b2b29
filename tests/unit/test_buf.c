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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_and_cap),
		cmocka_unit_test(test_printf_and_consume),
		cmocka_unit_test(test_binary_and_steal),
		cmocka_unit_test(test_err_first_wins),
		cmocka_unit_test(test_has_word),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
