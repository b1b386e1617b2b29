/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "reply.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void reply_init(struct reply *r)
{
	r->code = 0;
	r->enh[0] = '\0';
	r->nlines = 0;
	buf_init(&r->text, REPLY_LINES_MAX * (REPLY_LINE_MAX + 1));
}

void reply_free(struct reply *r)
{
	buf_free(&r->text);
}

void reply_reader_init(struct reply_reader *rr)
{
	rr->line_max = REPLY_LINE_MAX;
	buf_init(&rr->in, REPLY_IN_MAX);
	buf_init(&rr->cur, REPLY_LINES_MAX * (REPLY_LINE_MAX + 1));
	rr->cur_code = 0;
	rr->cur_lines = 0;
}

void reply_reader_free(struct reply_reader *rr)
{
	buf_free(&rr->in);
	buf_free(&rr->cur);
}

void reply_reader_set_line_max(struct reply_reader *rr, size_t max)
{
	rr->line_max = max < REPLY_LINE_MAX ? REPLY_LINE_MAX
		: max > REPLY_AUTH_LINE_MAX ? REPLY_AUTH_LINE_MAX : max;
}

int reply_feed(struct reply_reader *rr, const char *p, size_t n,
	       struct err *e)
{
	if (buf_append(&rr->in, p, n) < 0)
		return err_set_buf(e, ERR_PROTOCOL,
			       "server reply line longer than %zu bytes",
			       rr->line_max);
	return 0;
}

size_t reply_pending(const struct reply_reader *rr)
{
	return rr->in.len;
}

/* "2.1.5 ..." at the start of a line, whose class matches the code. */
static void reply_find_enhanced(struct reply *r, const char *t, size_t len)
{
	size_t i = 0, dots = 0, start = 0;

	if (len < 5 || t[0] - '0' != r->code / 100 || t[1] != '.')
		return;
	for (i = 0; i < len && i < sizeof r->enh - 1; i++) {
		if (t[i] == '.') {
			if (i == start)
				return;
			dots++;
			start = i + 1;
		} else if (!isdigit((unsigned char)t[i])) {
			break;
		}
	}
	if (dots != 2 || i == start || (i < len && t[i] != ' '))
		return;
	memcpy(r->enh, t, i);
	r->enh[i] = '\0';
}

/* Check one reply line (without its line end) and add it to the reply
 * being assembled.  Returns 1 if it was the last line, 0 if more follow. */
static int reply_add_line(struct reply_reader *rr, const char *l, size_t len,
			  struct err *e)
{
	int code;

	if (len > rr->line_max)
		return err_set(e, ERR_PROTOCOL,
			       "server reply line longer than %zu bytes",
			       rr->line_max);
	if (memchr(l, '\0', len) != NULL)
		return err_set(e, ERR_PROTOCOL,
			       "server reply contains a NUL byte");
	if (len < 3 || l[0] < '2' || l[0] > '5' || !isdigit((unsigned char)l[1])
	    || !isdigit((unsigned char)l[2])
	    || (len > 3 && l[3] != ' ' && l[3] != '-')) {
		char shown[81];
		size_t i;

		/* quote at most 80 bytes, control bytes as '?', one line */
		for (i = 0; i < len && i < sizeof shown - 1; i++)
			shown[i] = ((unsigned char)l[i] < 0x20 || l[i] == 0x7f)
				? '?' : l[i];
		shown[i] = '\0';
		return err_set(e, ERR_PROTOCOL,
			       "malformed server reply: '%s'", shown);
	}
	code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
	if (rr->cur_lines > 0 && code != rr->cur_code)
		return err_set(e, ERR_PROTOCOL,
			       "inconsistent codes in a multi-line server reply");
	if (rr->cur_lines >= REPLY_LINES_MAX)
		return err_set(e, ERR_PROTOCOL,
			       "server reply has more than %d lines",
			       REPLY_LINES_MAX);
	rr->cur_code = code;
	if ((rr->cur_lines > 0 && buf_append_byte(&rr->cur, '\n') < 0)
	    || buf_append(&rr->cur, l, len) < 0)
		return err_set(e, ERR_OSERR, "out of memory");
	rr->cur_lines++;
	return (len == 3 || l[3] == ' ') ? 1 : 0;
}

int reply_take(struct reply_reader *rr, struct reply *r, struct err *e)
{
	for (;;) {
		char *nl = memchr(rr->in.data ? rr->in.data : "", '\n',
				  rr->in.len);
		size_t linelen, used;
		int last;

		if (nl == NULL) {
			if (rr->in.len > rr->line_max + 1)
				return err_set(e, ERR_PROTOCOL,
					       "server reply line longer than %zu bytes",
					       rr->line_max);
			return 0;
		}
		used = (size_t)(nl - rr->in.data) + 1;
		linelen = used - 1;
		if (linelen > 0 && rr->in.data[linelen - 1] == '\r')
			linelen--;
		last = reply_add_line(rr, rr->in.data, linelen, e);
		if (last < 0)
			return -1;
		buf_consume(&rr->in, used);
		if (last) {
			buf_reset(&r->text);
			if (buf_append(&r->text, rr->cur.data, rr->cur.len) < 0)
				return err_set(e, ERR_OSERR, "out of memory");
			r->code = rr->cur_code;
			r->nlines = rr->cur_lines;
			r->enh[0] = '\0';
			{
				size_t l0;
				const char *t0 = reply_line(r, 0, &l0);
				reply_find_enhanced(r, t0, l0);
			}
			buf_reset(&rr->cur);
			rr->cur_lines = 0;
			rr->cur_code = 0;
			return 1;
		}
	}
}

const char *reply_line(const struct reply *r, size_t i, size_t *len)
{
	const char *p = buf_str(&r->text);
	const char *end = p + r->text.len;
	const char *nl;

	while (i > 0 && p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL) {
			p = end;
			break;
		}
		p = nl + 1;
		i--;
	}
	nl = memchr(p, '\n', (size_t)(end - p));
	*len = nl ? (size_t)(nl - p) : (size_t)(end - p);
	if (*len >= 4) {
		*len -= 4;
		return p + 4;
	}
	*len = 0;
	return p + (end - p >= 3 ? 3 : end - p);
}

void reply_oneline(const struct reply *r, char *dst, size_t dstlen)
{
	const char *p = buf_str(&r->text);
	size_t o = 0, i;

	if (dstlen == 0)
		return;
	for (i = 0; i < r->text.len && o + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\n') {
			/* " / " between lines, without the next line's code */
			if (o + 4 >= dstlen)
				break;
			memcpy(dst + o, " / ", 3);
			o += 3;
			i += (i + 4 < r->text.len) ? 4 : 0;
			continue;
		}
		dst[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	dst[o] = '\0';
}

/* Does the EHLO keyword line `l` start with keyword `kw`? */
static int reply_kw(const char *l, size_t len, const char *kw, size_t *arg)
{
	size_t k = strlen(kw);

	if (len < k || strncasecmp(l, kw, k) != 0)
		return 0;
	if (len > k && l[k] != ' ' && l[k] != '=')
		return 0;
	*arg = len > k ? k + 1 : k;
	return 1;
}

/* Add each space-separated mechanism name once, upper-cased. */
static void reply_add_mechs(struct smtp_caps *caps, const char *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		char word[64];
		size_t n = 0, o = strlen(caps->auth_mechs);

		while (i < len && (p[i] == ' ' || p[i] == '\t'))
			i++;
		while (i < len && p[i] != ' ' && p[i] != '\t') {
			if (n + 1 < sizeof word && (unsigned char)p[i] > 0x20)
				word[n++] = (char)toupper((unsigned char)p[i]);
			i++;
		}
		word[n] = '\0';
		if (n == 0 || buf_has_word(caps->auth_mechs, word))
			continue;
		if (o + n + 2 > sizeof caps->auth_mechs)
			return;
		if (o > 0)
			caps->auth_mechs[o++] = ' ';
		memcpy(caps->auth_mechs + o, word, n + 1);
	}
}

void reply_parse_ehlo(const struct reply *r, struct smtp_caps *caps)
{
	size_t i, len, a;
	const char *l;

	memset(caps, 0, sizeof *caps);
	caps->esmtp = 1;
	l = reply_line(r, 0, &len);
	{
		size_t n = 0;
		while (n < len && l[n] != ' ' && n + 1 < sizeof caps->name)
			n++;
		memcpy(caps->name, l, n);
		caps->name[n] = '\0';
	}
	for (i = 1; i < r->nlines; i++) {
		l = reply_line(r, i, &len);
		if (reply_kw(l, len, "PIPELINING", &a))
			caps->pipelining = 1;
		else if (reply_kw(l, len, "8BITMIME", &a))
			caps->eightbitmime = 1;
		else if (reply_kw(l, len, "SMTPUTF8", &a))
			caps->smtputf8 = 1;
		else if (reply_kw(l, len, "DSN", &a))
			caps->dsn = 1;
		else if (reply_kw(l, len, "ENHANCEDSTATUSCODES", &a))
			caps->enhancedstatuscodes = 1;
		else if (reply_kw(l, len, "CHUNKING", &a))
			caps->chunking = 1;
		else if (reply_kw(l, len, "STARTTLS", &a))
			caps->starttls = 1;
		else if (reply_kw(l, len, "ETRN", &a))
			caps->etrn = 1;
		else if (reply_kw(l, len, "SIZE", &a)) {
			uint64_t v = 0;
			caps->size = 1;
			for (; a < len && isdigit((unsigned char)l[a]); a++) {
				if (v > (UINT64_MAX - 9) / 10)
					break;
				v = v * 10 + (uint64_t)(l[a] - '0');
			}
			caps->size_max = v;
		} else if (reply_kw(l, len, "AUTH", &a)) {
			caps->auth = 1;
			reply_add_mechs(caps, l + a, len - a);
		}
	}
}
