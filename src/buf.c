/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_wipe(void *p, size_t n)
{
	if (p == NULL || n == 0)
		return;
#ifdef HAVE_EXPLICIT_BZERO
	explicit_bzero(p, n);
#else
	volatile unsigned char *v = p;
	while (n--)
		*v++ = 0;
#endif
}

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

/* Grow so that `need` bytes plus a NUL fit; moves data through a fresh
 * allocation so the old copy can be wiped (it may hold a secret). */
static int buf_reserve(struct buf *b, size_t need)
{
	size_t ncap;
	char *nd;

	if (need > b->max) {
		errno = E2BIG;
		return -1;
	}
	if (need + 1 <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need + 1)
		ncap = ncap > ((size_t)-1) / 2 ? need + 1 : ncap * 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	nd = malloc(ncap);
	if (nd == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (b->data != NULL) {
		memcpy(nd, b->data, b->len + 1);
		buf_wipe(b->data, b->cap);
		free(b->data);
	} else {
		nd[0] = '\0';
	}
	b->data = nd;
	b->cap = ncap;
	return 0;
}

/* Writers that fill data[len..cap-1) themselves (the DATA encoder) get
 * the room in one step instead of an append per piece. */
int buf_room(struct buf *b, size_t n)
{
	if (n > b->max - b->len)
		n = b->max - b->len;
	return buf_reserve(b, b->len + n);
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	if (n > b->max - b->len) {
		errno = E2BIG;
		return -1;
	}
	if (buf_reserve(b, b->len + n) < 0)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_append_byte(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

static int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -1;
	if ((size_t)n > b->max - b->len) {
		errno = E2BIG;
		return -1;
	}
	if (buf_reserve(b, b->len + (size_t)n) < 0)
		return -1;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		if (b->data != NULL) {
			buf_wipe(b->data, b->len);
			b->data[0] = '\0';
		}
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	buf_wipe(b->data + b->len - n, n);
	b->len -= n;
	b->data[b->len] = '\0';
}

void buf_reset(struct buf *b)
{
	buf_consume(b, b->len);
}

void buf_free(struct buf *b)
{
	if (b->data != NULL) {
		buf_wipe(b->data, b->cap);
		free(b->data);
	}
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

const char *buf_str(const struct buf *b)
{
	return b->data ? b->data : "";
}

void buf_truncate(struct buf *b, size_t len)
{
	if (b->data == NULL || len >= b->len)
		return;
	buf_wipe(b->data + len, b->len - len);
	b->len = len;
}

char *buf_steal(struct buf *b)
{
	char *s;

	if (b->data == NULL)
		return strdup("");
	s = b->data;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return s;
}

int buf_has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p = list;

	if (n == 0)
		return 0;
	while ((p = strstr(p, word)) != NULL) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

/* How many of the first `n` bytes of s to show: BUF_SHOW_MAX, less the
 * start of a UTF-8 sequence the limit would cut in two (at most 3 bytes:
 * a run of stray continuation bytes is cut anyway). */
static size_t buf_show_len(const char *s, size_t n)
{
	size_t k = BUF_SHOW_MAX;

	if (n <= BUF_SHOW_MAX)
		return n;
	while (k > BUF_SHOW_MAX - 3 && ((unsigned char)s[k] & 0xc0) == 0x80)
		k--;
	if (((unsigned char)s[k] & 0xc0) == 0x80)
		return BUF_SHOW_MAX;
	return k;
}

/* The one rule for showing a byte of untrusted text on a terminal. */
static int buf_is_shown_escaped(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

int buf_append_shown(struct buf *b, const char *s, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++) {
		unsigned char c = (unsigned char)s[k];
		int r = buf_is_shown_escaped(c) ? buf_printf(b, "\\x%02x", c)
			: buf_append_byte(b, (char)c);

		if (r < 0)
			return -1;
	}
	return 0;
}

void buf_fput_shown(FILE *f, const char *s, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++) {
		unsigned char c = (unsigned char)s[k];

		if (buf_is_shown_escaped(c))
			fprintf(f, "\\x%02x", c);
		else
			putc(c, f);
	}
}

const char *buf_show(char *out, size_t outlen, const char *s, size_t n)
{
	size_t k, pos = 0;
	size_t show = buf_show_len(s, n);
	unsigned char c;

	if (outlen == 0)
		return out;
	for (k = 0; k < show; k++) {
		c = (unsigned char)s[k];
		if (buf_is_shown_escaped(c)) {
			if (outlen - pos < 5)
				break;
			snprintf(out + pos, outlen - pos, "\\x%02x", c);
			pos += 4;
		} else {
			if (outlen - pos < 2)
				break;
			out[pos++] = (char)c;
		}
	}
	if (k < n && outlen - pos >= 4) {
		memcpy(out + pos, "...", 3);
		pos += 3;
	}
	out[pos] = '\0';
	return out;
}
