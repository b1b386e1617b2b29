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
 * jsonl_free() either way.
 *
 * json-c is linked into the private module msmtp-json.so (ext.h), not
 * into the msmtp binary: json-c's objects are opaque here, and a run must
 * call jsonl_ready() before any other function of this header (in the
 * binary it loads the module; the others then assume it loaded).
 */
#ifndef MSMTP_JSONL_H
#define MSMTP_JSONL_H

#include <stddef.h>
#include <time.h>
#include "err.h"

struct json_object;     /* json-c's object, opaque here */

/* "YYYY-MM-DDThh:mm:ssZ" and the NUL. */
#define JSONL_TIME_SIZE 21

/* RFC 3339 UTC form of t; -1 when t cannot be converted or n is too
 * small. */
int jsonl_format_time(time_t t, char *out, size_t n);

/* 0 when the functions below can be used; -1 with ERR_UNAVAILABLE
 * "cannot load .../msmtp-json.so: why" when the module cannot be
 * loaded. */
int jsonl_ready(struct err *e);

/* A new empty object or array; NULL on ENOMEM. */
struct json_object *jsonl_object_new(void);
struct json_object *jsonl_array_new(void);
/* Free an object or array and what it holds (NULL: nothing). */
void jsonl_free(struct json_object *o);
/* Append v (taking it over, freed on failure); -1 when v is NULL. */
int jsonl_array_add(struct json_object *arr, struct json_object *v);

int jsonl_add_str(struct json_object *o, const char *key, const char *val);
int jsonl_add_int(struct json_object *o, const char *key, long long v);
int jsonl_add_bool(struct json_object *o, const char *key, int v);
int jsonl_add_null(struct json_object *o, const char *key);
/* The RFC 3339 string of t (null when t cannot be converted). */
int jsonl_add_time(struct json_object *o, const char *key, time_t t);
/* Add v (taking it over); -1 when v is NULL. */
int jsonl_add(struct json_object *o, const char *key,
	      struct json_object *v);
int jsonl_array_add_str(struct json_object *arr, const char *val);

/* The object as one line ending in "\n", malloc'd; NULL on ENOMEM. */
char *jsonl_line(struct json_object *o);

#endif
