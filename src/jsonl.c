/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "jsonl.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "addr.h"
#include "buf.h"

/* U+FFFD REPLACEMENT CHARACTER in UTF-8. */
static const char jsonl_fffd[] = "\xef\xbf\xbd";

/* A JSON string of s made valid UTF-8 (each stray byte -> U+FFFD). */
static json_object *jsonl_string(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, len;
	json_object *v = NULL;
	struct buf b;
	int r = 0;

	buf_init(&b, 3 * n + 1);
	while (r == 0 && i < n) {
		len = addr_utf8_len(p + i, n - i);
		if (len == 0) {
			r = buf_append(&b, jsonl_fffd, 3);
			i++;
		} else {
			r = buf_append(&b, p + i, len);
			i += len;
		}
	}
	if (r == 0 && b.len <= (size_t)INT_MAX)
		v = json_object_new_string_len(buf_str(&b), (int)b.len);
	buf_free(&b);
	return v;
}

int jsonl_format_time(time_t t, char *out, size_t n)
{
	struct tm tm;
	int w;

	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	w = snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02dZ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec);
	return w > 0 && (size_t)w < n ? 0 : -1;
}

int jsonl_ready(struct err *e)
{
	(void)e;        /* linked with json-c: nothing to load */
	return 0;
}

struct json_object *jsonl_object_new(void)
{
	return json_object_new_object();
}

struct json_object *jsonl_array_new(void)
{
	return json_object_new_array();
}

void jsonl_free(struct json_object *o)
{
	json_object_put(o);
}

int jsonl_array_add(struct json_object *arr, struct json_object *v)
{
	if (v == NULL)
		return -1;
	if (json_object_array_add(arr, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

int jsonl_add(json_object *o, const char *key, json_object *v)
{
	if (v == NULL)
		return -1;
	if (json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

int jsonl_add_str(json_object *o, const char *key, const char *val)
{
	if (val == NULL)
		return jsonl_add_null(o, key);
	return jsonl_add(o, key, jsonl_string(val));
}

int jsonl_add_int(json_object *o, const char *key, long long v)
{
	return jsonl_add(o, key, json_object_new_int64((int64_t)v));
}

int jsonl_add_bool(json_object *o, const char *key, int v)
{
	return jsonl_add(o, key, json_object_new_boolean(v != 0));
}

/* json-c's null is the NULL object, so it is added directly. */
int jsonl_add_null(json_object *o, const char *key)
{
	return json_object_object_add(o, key, NULL) == 0 ? 0 : -1;
}

int jsonl_add_time(json_object *o, const char *key, time_t t)
{
	char text[JSONL_TIME_SIZE];

	if (jsonl_format_time(t, text, sizeof text) < 0)
		return jsonl_add_null(o, key);
	return jsonl_add_str(o, key, text);
}

int jsonl_array_add_str(json_object *arr, const char *val)
{
	if (val == NULL)
		return json_object_array_add(arr, NULL) == 0 ? 0 : -1;
	return jsonl_array_add(arr, jsonl_string(val));
}

char *jsonl_line(json_object *o)
{
	const char *text = json_object_to_json_string_ext(o,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t n;
	char *line;

	if (text == NULL)
		return NULL;
	n = strlen(text);
	line = malloc(n + 2);
	if (line == NULL)
		return NULL;
	memcpy(line, text, n);
	line[n] = '\n';
	line[n + 1] = '\0';
	return line;
}
