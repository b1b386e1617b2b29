/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * jsonl - machine-readable output, one JSON object per line (mailq --json,
 * logfile_format json), always built with json-c (never by hand).
 *
 * Text read from disk or from a server may hold any bytes; a string added
 * here is first made valid UTF-8 (RFC 3629): every byte that is not part
 * of a well-formed sequence (stray, overlong, surrogate, beyond U+10FFFF,
 * cut short) becomes U+FFFD, so every line parses.  json-c escapes quotes,
 * backslashes and control characters, so a line holds exactly one newline,
 * at its end.  A NULL string is JSON null.  Times are RFC 3339 in UTC
 * ("2026-12-02T09:00:00Z").  Fields keep the order they were added in.
 *
 * The adders return 0, or -1 when memory ran out (a value that could not
 * be made is an error, never a silent null); the object stays valid for
 * json_object_put() either way.
 */
#ifndef MSMTP_JSONL_H
#define MSMTP_JSONL_H

#include <stddef.h>
#include <time.h>
#include <json-c/json.h>

/* "YYYY-MM-DDThh:mm:ssZ" and the NUL. */
#define JSONL_TIME_SIZE 21

/* RFC 3339 UTC form of t; -1 when t cannot be converted or n is too
 * small. */
int jsonl_format_time(time_t t, char *out, size_t n);

int jsonl_add_str(json_object *o, const char *key, const char *val);
int jsonl_add_int(json_object *o, const char *key, long long v);
int jsonl_add_bool(json_object *o, const char *key, int v);
int jsonl_add_null(json_object *o, const char *key);
/* The RFC 3339 string of t (null when t cannot be converted). */
int jsonl_add_time(json_object *o, const char *key, time_t t);
/* Add v (taking it over); -1 when v is NULL. */
int jsonl_add(json_object *o, const char *key, json_object *v);
int jsonl_array_add_str(json_object *arr, const char *val);

/* The object as one line ending in "\n", malloc'd; NULL on ENOMEM. */
char *jsonl_line(json_object *o);

#endif
