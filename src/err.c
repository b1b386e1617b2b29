/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void err_init(struct err *e)
{
	e->code = 0;
	e->msg[0] = '\0';
	e->hint[0] = '\0';
	e->hint_closed = 0;
}

/* An error arrives: 1 if it is to be recorded (the first); a later one
 * is dropped and closes the hint, which would otherwise describe the
 * dropped error. */
static int err_take(struct err *e)
{
	if (e->code != 0) {
		e->hint_closed = 1;
		return 0;
	}
	e->hint[0] = '\0';
	return 1;
}

/* The one place an error is recorded: the first one wins. */
static int err_vset(struct err *e, int code, const char *fmt, va_list ap)
{
	if (!err_take(e))
		return -1;
	e->code = code ? code : ERR_SOFTWARE;
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	return -1;
}

int err_set(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(e, code, fmt, ap);
	va_end(ap);
	return -1;
}

int err_set_buf(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (errno == ENOMEM)
		return err_set(e, ERR_OSERR, "out of memory");
	va_start(ap, fmt);
	err_vset(e, code, fmt, ap);
	va_end(ap);
	return -1;
}

void err_prefix(struct err *e, const char *fmt, ...)
{
	char ctx[ERR_MSG_MAX];
	char joined[2 * ERR_MSG_MAX + 4];
	va_list ap;

	if (e->code == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof ctx, fmt, ap);
	va_end(ap);
	snprintf(joined, sizeof joined, "%s: %s", ctx, e->msg);
	memcpy(e->msg, joined, sizeof e->msg - 1);
	e->msg[sizeof e->msg - 1] = '\0';
}

void err_recode(struct err *e, int code)
{
	if (e->code != 0 && e->code != ERR_OSERR)
		e->code = code;
}

int err_isset(const struct err *e)
{
	return e->code != 0;
}

void err_hint(struct err *e, const char *fmt, ...)
{
	va_list ap;

	if (e->code == 0 || e->hint_closed || e->hint[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(e->hint, sizeof e->hint, fmt, ap);
	va_end(ap);
}

void err_hint_copy(struct err *e, const struct err *src)
{
	if (src->hint[0] != '\0')
		err_hint(e, "%s", src->hint);
}

static unsigned char err_fold(char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a')
		: (unsigned char)c;
}

static size_t err_min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;

	return m < c ? m : c;
}

/* Three rows of the dynamic programming table (the swap looks two rows
 * back), each bounded by ERR_NEAR_WORD_MAX. */
size_t err_edit_distance(const char *a, const char *b)
{
	size_t rows[3][ERR_NEAR_WORD_MAX + 1];
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2], *t;

	if (la > ERR_NEAR_WORD_MAX || lb > ERR_NEAR_WORD_MAX)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		prev[j] = j;
	for (i = 1; i <= la; i++) {
		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t cost = err_fold(a[i - 1]) != err_fold(b[j - 1]);

			cur[j] = err_min3(prev[j] + 1, cur[j - 1] + 1,
					  prev[j - 1] + cost);
			if (i > 1 && j > 1
			    && err_fold(a[i - 1]) == err_fold(b[j - 2])
			    && err_fold(a[i - 2]) == err_fold(b[j - 1])
			    && prev2[j - 2] + 1 < cur[j])
				cur[j] = prev2[j - 2] + 1;
		}
		t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb];
}

void err_near_init(struct err_near *n, const char *word)
{
	n->word = word;
	n->best = NULL;
	n->dist = SIZE_MAX;
}

/* How far a word may be from a name and still be a typo of it. */
static size_t err_near_limit(const char *word)
{
	size_t len = strlen(word);

	return len <= 4 ? 1 : len <= 8 ? 2 : 3;
}

void err_near_try(struct err_near *n, const char *candidate)
{
	size_t d = err_edit_distance(n->word, candidate);

	if (d <= err_near_limit(n->word) && d < n->dist) {
		n->best = candidate;
		n->dist = d;
	}
}

const char *err_near_best(const struct err_near *n)
{
	return n->best;
}

const char *err_code_name(int code)
{
	switch (code) {
	case 0: return "EX_OK";
	case ERR_USAGE: return "EX_USAGE";
	case ERR_DATAERR: return "EX_DATAERR";
	case ERR_NOINPUT: return "EX_NOINPUT";
	case ERR_NOHOST: return "EX_NOHOST";
	case ERR_UNAVAILABLE: return "EX_UNAVAILABLE";
	case ERR_SOFTWARE: return "EX_SOFTWARE";
	case ERR_OSERR: return "EX_OSERR";
	case ERR_CANTCREAT: return "EX_CANTCREAT";
	case ERR_IOERR: return "EX_IOERR";
	case ERR_TEMPFAIL: return "EX_TEMPFAIL";
	case ERR_PROTOCOL: return "EX_PROTOCOL";
	case ERR_NOPERM: return "EX_NOPERM";
	case ERR_CONFIG: return "EX_CONFIG";
	default: return "EX_UNKNOWN";
	}
}
