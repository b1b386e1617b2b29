/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "err.h"

/* Edits count one each; a swap of two neighbours is one edit; ASCII
 * case does not count. */
static void test_edit_distance(void **state)
{
	(void)state;
	assert_int_equal(err_edit_distance("", ""), 0);
	assert_int_equal(err_edit_distance("host", "host"), 0);
	assert_int_equal(err_edit_distance("", "port"), 4);
	assert_int_equal(err_edit_distance("port", ""), 4);
	assert_int_equal(err_edit_distance("hots", "host"), 1);
	assert_int_equal(err_edit_distance("Host", "host"), 0);
	assert_int_equal(err_edit_distance("tls_startls", "tls_starttls"), 1);
	assert_int_equal(err_edit_distance("passwrod", "password"), 1);
	assert_int_equal(err_edit_distance("kitten", "sitting"), 3);
	assert_int_equal(err_edit_distance("ca", "abc"), 3);
	assert_int_equal(err_edit_distance("auth", "user"), 4);
}

/* Over-long words are never compared (bounded table). */
static void test_edit_distance_bounded(void **state)
{
	char longw[ERR_NEAR_WORD_MAX + 2];

	(void)state;
	memset(longw, 'a', sizeof longw - 1);
	longw[sizeof longw - 1] = '\0';
	assert_int_equal(err_edit_distance(longw, "a"), SIZE_MAX);
	assert_int_equal(err_edit_distance("a", longw), SIZE_MAX);
	longw[ERR_NEAR_WORD_MAX] = '\0';
	assert_int_equal(err_edit_distance(longw, longw), 0);
}

static const char *near(const char *word)
{
	static const char *const names[] = { "host", "port", "tls",
		"tls_starttls", "tls_trust_file", "password", "passwordeval",
		"account", "auth", "from", NULL };
	struct err_near n;
	size_t i;

	err_near_init(&n, word);
	for (i = 0; names[i] != NULL; i++)
		err_near_try(&n, names[i]);
	return err_near_best(&n);
}

/* The closest name when close enough for the word's length; none for a
 * word far from all of them; the first of equally close names. */
static void test_near(void **state)
{
	(void)state;
	assert_string_equal(near("hots"), "host");
	assert_string_equal(near("tls_startls"), "tls_starttls");
	assert_string_equal(near("acount"), "account");
	assert_string_equal(near("passwordevl"), "passwordeval");
	assert_string_equal(near("tsl"), "tls");
	assert_null(near("frobnicate"));
	assert_null(near("xyz"));
	assert_null(near("ab"));
	/* "pot" is 1 from port, 2 from host */
	assert_string_equal(near("pot"), "port");
	/* "fort" is 1 from port, 2 from from (a swap and a change) */
	assert_string_equal(near("fort"), "port");
	/* "tlss" is 1 from tls and 1 from... nothing else: tls */
	assert_string_equal(near("tlss"), "tls");
}

/* The hint belongs to the recorded error: none without an error, none
 * after an ignored second error, the first hint kept, cleared by
 * err_init, kept by err_prefix and err_recode. */
static void test_hint_rules(void **state)
{
	struct err e, f;

	(void)state;
	err_init(&e);
	err_hint(&e, "no error yet");
	assert_string_equal(e.hint, "");

	err_set(&e, ERR_CONFIG, "first");
	err_hint(&e, "fix %d", 1);
	err_hint(&e, "fix 2");
	assert_string_equal(e.hint, "fix 1");
	err_prefix(&e, "ctx");
	err_recode(&e, ERR_USAGE);
	assert_string_equal(e.msg, "ctx: first");
	assert_string_equal(e.hint, "fix 1");

	err_init(&e);
	assert_string_equal(e.hint, "");
	err_set(&e, ERR_CONFIG, "first");
	err_set(&e, ERR_USAGE, "second, ignored");
	err_hint(&e, "belongs to the second");
	assert_string_equal(e.msg, "first");
	assert_string_equal(e.hint, "");

	err_init(&e);
	err_init(&f);
	err_set(&f, ERR_TEMPFAIL, "low");
	err_hint(&f, "low's hint");
	err_set(&e, f.code, "%s", f.msg);
	err_hint_copy(&e, &f);
	assert_string_equal(e.hint, "low's hint");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edit_distance),
		cmocka_unit_test(test_edit_distance_bounded),
		cmocka_unit_test(test_near),
		cmocka_unit_test(test_hint_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
