/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "jsonl.h"

/* The line of an object holding one string field. */
static char *line_of_str(const char *val)
{
	json_object *o = json_object_new_object();
	char *line;

	assert_non_null(o);
	assert_int_equal(jsonl_add_str(o, "k", val), 0);
	line = jsonl_line(o);
	json_object_put(o);
	assert_non_null(line);
	return line;
}

static void check_str(const char *val, const char *want)
{
	char *line = line_of_str(val);

	if (strcmp(line, want) != 0)
		fail_msg("got <%s> want <%s>", line, want);
	free(line);
}

/* Valid UTF-8 passes as it is; quotes, backslashes and control bytes are
 * escaped by json-c, so a line holds exactly one newline, at its end. */
static void test_str_escapes(void **state)
{
	(void)state;
	check_str("plain", "{\"k\":\"plain\"}\n");
	check_str("a\"b\\c/d", "{\"k\":\"a\\\"b\\\\c/d\"}\n");
	check_str("a\nb\rc\td", "{\"k\":\"a\\nb\\rc\\td\"}\n");
	check_str("\x01\x1f", "{\"k\":\"\\u0001\\u001f\"}\n");
	check_str("J\xc3\xb6rg \xe6\x97\xa5 \xf0\x9f\x98\x80",
		  "{\"k\":\"J\xc3\xb6rg \xe6\x97\xa5 \xf0\x9f\x98\x80\"}\n");
	check_str("", "{\"k\":\"\"}\n");
	check_str(NULL, "{\"k\":null}\n");
}

/* Bytes that are not well-formed UTF-8 (RFC 3629) each become U+FFFD,
 * so every line is valid JSON whatever a server or a file held. */
static void test_str_invalid_utf8(void **state)
{
	(void)state;
	check_str("a\xff" "b", "{\"k\":\"a\xef\xbf\xbd" "b\"}\n");
	/* a stray continuation byte */
	check_str("\x80", "{\"k\":\"\xef\xbf\xbd\"}\n");
	/* overlong "/" */
	check_str("\xc0\xaf", "{\"k\":\"\xef\xbf\xbd\xef\xbf\xbd\"}\n");
	/* overlong 3-byte form of U+007F */
	check_str("\xe0\x81\xbf",
		  "{\"k\":\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"}\n");
	/* a UTF-16 surrogate */
	check_str("\xed\xa0\x80",
		  "{\"k\":\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"}\n");
	/* beyond U+10FFFF */
	check_str("\xf4\x90\x80\x80", "{\"k\":\"\xef\xbf\xbd\xef\xbf\xbd"
		  "\xef\xbf\xbd\xef\xbf\xbd\"}\n");
	/* a sequence cut by the end of the text, then by an ASCII byte */
	check_str("x\xe6\x97", "{\"k\":\"x\xef\xbf\xbd\xef\xbf\xbd\"}\n");
	check_str("\xe6" "a", "{\"k\":\"\xef\xbf\xbd" "a\"}\n");
	/* the largest and smallest of each length stay */
	check_str("\xf4\x8f\xbf\xbf\xc2\x80\xe0\xa0\x80\xf0\x90\x80\x80",
		  "{\"k\":\"\xf4\x8f\xbf\xbf\xc2\x80\xe0\xa0\x80\xf0\x90\x80\x80\"}\n");
}

/* Fields keep the order they were added in; numbers, booleans, null,
 * arrays and times have their JSON types. */
static void test_types_and_order(void **state)
{
	json_object *o = json_object_new_object();
	json_object *arr = json_object_new_array();
	char *line;

	(void)state;
	assert_non_null(o);
	assert_non_null(arr);
	assert_int_equal(jsonl_add_str(o, "id", "x"), 0);
	assert_int_equal(jsonl_add_int(o, "size", 9007199254740992LL), 0);
	assert_int_equal(jsonl_add_bool(o, "yes", 1), 0);
	assert_int_equal(jsonl_add_bool(o, "no", 0), 0);
	assert_int_equal(jsonl_add_null(o, "none"), 0);
	assert_int_equal(jsonl_array_add_str(arr, "a@x"), 0);
	assert_int_equal(jsonl_array_add_str(arr, "b\xff@x"), 0);
	assert_int_equal(jsonl_add(o, "list", arr), 0);
	assert_int_equal(jsonl_add_time(o, "when", 1796202000), 0);
	line = jsonl_line(o);
	json_object_put(o);
	assert_non_null(line);
	assert_string_equal(line, "{\"id\":\"x\",\"size\":9007199254740992,"
			    "\"yes\":true,\"no\":false,\"none\":null,"
			    "\"list\":[\"a@x\",\"b\xef\xbf\xbd@x\"],"
			    "\"when\":\"2026-12-02T09:00:00Z\"}\n");
	free(line);
}

/* Adding a NULL value (a failed json_object_new_*) is an error, not a
 * silent null. */
static void test_add_null_value_fails(void **state)
{
	json_object *o = json_object_new_object();

	(void)state;
	assert_non_null(o);
	assert_int_equal(jsonl_add(o, "k", NULL), -1);
	json_object_put(o);
}

/* RFC 3339 in UTC, whatever the local zone. */
static void test_format_time(void **state)
{
	char out[JSONL_TIME_SIZE], small[20];
	char *old = getenv("TZ");

	(void)state;
	old = old ? strdup(old) : NULL;
	setenv("TZ", "<+0530>-5:30", 1);
	tzset();
	assert_int_equal(jsonl_format_time(1796202000, out, sizeof out), 0);
	assert_string_equal(out, "2026-12-02T09:00:00Z");
	assert_int_equal(jsonl_format_time(0, out, sizeof out), 0);
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	assert_int_equal(jsonl_format_time(253402300799LL, out, sizeof out), 0);
	assert_string_equal(out, "9999-12-31T23:59:59Z");
	/* 20 characters and the NUL do not fit in 20 bytes */
	assert_int_equal(jsonl_format_time(0, small, sizeof small), -1);
	if (old) {
		setenv("TZ", old, 1);
		free(old);
	} else {
		unsetenv("TZ");
	}
	tzset();
}

/* The helpers the binary reaches through the module: a new array takes
 * an object, an array add of NULL fails, jsonl_free(NULL) is harmless,
 * and jsonl_ready() has nothing to load when json-c is linked. */
static void test_helpers(void **state)
{
	struct json_object *o = jsonl_object_new();
	struct json_object *arr = jsonl_array_new();
	struct json_object *in = jsonl_object_new();
	struct err e;
	char *line;

	(void)state;
	err_init(&e);
	assert_int_equal(jsonl_ready(&e), 0);
	assert_non_null(o);
	assert_non_null(arr);
	assert_non_null(in);
	assert_int_equal(jsonl_add_str(in, "k", "v"), 0);
	assert_int_equal(jsonl_array_add(arr, in), 0);
	assert_int_equal(jsonl_array_add(arr, NULL), -1);
	assert_int_equal(jsonl_add(o, "list", arr), 0);
	line = jsonl_line(o);
	assert_non_null(line);
	assert_string_equal(line, "{\"list\":[{\"k\":\"v\"}]}\n");
	free(line);
	jsonl_free(o);
	jsonl_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_str_escapes),
		cmocka_unit_test(test_str_invalid_utf8),
		cmocka_unit_test(test_types_and_order),
		cmocka_unit_test(test_add_null_value_fails),
		cmocka_unit_test(test_format_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
