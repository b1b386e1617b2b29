/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz target: the display name of a generated From field
 * (addr_encode_display_name in src/addr.c: plain, quoted-string or RFC
 * 2047 encoded-words).
 *
 * Input: the name (up to its first NUL).  Invariants: the result is
 * printable ASCII; decoded (the quoted-string unescaped, the encoded-
 * words' base64 decoded and joined) it is the name again; a result
 * returned as it was needs nothing (no specials, no 8-bit); every
 * encoded-word is at most 75 bytes, in charset utf-8, and never cuts a
 * well-formed UTF-8 character in two.
 */
#include "config.h"
#include "fuzzkit.h"

#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"

static int fdisp_b64(char c)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"abcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(tab, c) : NULL;

	return p ? (int)(p - tab) : -1;
}

/* Decode one base64 text (strict: groups of four, '=' only at the end). */
static void fdisp_unbase64(const char *s, size_t n, struct buf *out)
{
	size_t i;

	FUZZ_CHECK(n % 4 == 0);
	for (i = 0; i < n; i += 4) {
		int a = fdisp_b64(s[i]), b = fdisp_b64(s[i + 1]);
		int c = s[i + 2] == '=' ? -2 : fdisp_b64(s[i + 2]);
		int d = s[i + 3] == '=' ? -2 : fdisp_b64(s[i + 3]);
		unsigned v;

		FUZZ_CHECK(a >= 0 && b >= 0 && c != -1 && d != -1);
		FUZZ_CHECK(c != -2 || d == -2);
		FUZZ_CHECK(d != -2 || i + 4 == n);
		v = (unsigned)a << 18 | (unsigned)b << 12
			| (unsigned)(c < 0 ? 0 : c) << 6 | (unsigned)(d < 0 ? 0 : d);
		buf_append_byte(out, (char)(v >> 16));
		if (c >= 0)
			buf_append_byte(out, (char)(v >> 8));
		if (d >= 0)
			buf_append_byte(out, (char)v);
	}
}

/* A word's decoded bytes must not end inside a well-formed character
 * that the name continues. */
static void fdisp_whole_chars(const char *name, size_t end)
{
	size_t i = end;

	if (name[end] == '\0')
		return;
	/* step back over continuation bytes to the character's start */
	while (i > 0 && end - i < 3 && ((unsigned char)name[i] & 0xc0) == 0x80)
		i--;
	if (i < end) {
		size_t k = addr_utf8_len((const unsigned char *)name + i,
					 strlen(name + i));

		FUZZ_CHECK(k == 0 || i + k <= end);
	}
}

static void fdisp_words(const char *name, const char *enc)
{
	static const char pre[] = "=?utf-8?B?";
	struct buf dec;
	const char *p = enc;

	buf_init(&dec, 4 * strlen(enc) + 16);
	for (;;) {
		const char *end;
		size_t wl;

		FUZZ_CHECK(strncmp(p, pre, sizeof pre - 1) == 0);
		end = strstr(p + sizeof pre - 1, "?=");
		FUZZ_CHECK(end != NULL);
		wl = (size_t)(end + 2 - p);
		FUZZ_CHECK(wl <= 75);
		fdisp_unbase64(p + sizeof pre - 1,
			       (size_t)(end - (p + sizeof pre - 1)), &dec);
		FUZZ_CHECK(dec.len <= strlen(name));
		fdisp_whole_chars(name, dec.len);
		p = end + 2;
		if (*p == '\0')
			break;
		FUZZ_CHECK(*p == ' ');
		p++;
	}
	FUZZ_CHECK(strcmp(buf_str(&dec), name) == 0 && dec.len == strlen(name));
	buf_free(&dec);
}

static void fdisp_quoted(const char *name, const char *enc)
{
	size_t n = strlen(enc), i, o = 0;
	char *dec = malloc(n);

	if (dec == NULL)
		return;
	FUZZ_CHECK(n >= 2 && enc[n - 1] == '"');
	for (i = 1; i < n - 1; i++) {
		FUZZ_CHECK(enc[i] != '"');
		if (enc[i] == '\\') {
			i++;
			FUZZ_CHECK(i < n - 1);
		}
		dec[o++] = enc[i];
	}
	dec[o] = '\0';
	FUZZ_CHECK(strcmp(dec, name) == 0);
	free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in;
	char *name, *enc;
	size_t i;

	fuzz_in_init(&in, data, size);
	name = fuzz_take_until(&in, '\0', NULL);
	if (name == NULL)
		return 0;
	enc = addr_encode_display_name(name);
	FUZZ_CHECK(enc != NULL);
	for (i = 0; enc[i]; i++)
		FUZZ_CHECK((unsigned char)enc[i] >= 0x20
			   && (unsigned char)enc[i] < 0x7f);
	if (strcmp(enc, name) == 0) {
		FUZZ_CHECK(strpbrk(name, "()<>[]:;@\\,\"") == NULL);
	} else if (enc[0] == '"') {
		fdisp_quoted(name, enc);
	} else {
		fdisp_words(name, enc);
	}
	free(enc);
	free(name);
	return 0;
}
