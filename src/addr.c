/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "addr.h"
#include "buf.h"
#include "ext.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How much of an offending list element an error message quotes. */
#define ADDR_SHOW_MAX 64
/* Raw bytes per RFC 2047 B encoded-word: "=?utf-8?B?" + 60 base64 + "?="
 * is 72 characters, within the 75 of RFC 2047 section 2. */
#define ADDR_EW_RAW 45

/* ------------------------------------------------------------------ */
/* Character classes (RFC 5322 section 3.2.3)                          */

/* atext, plus every 8-bit byte so UTF-8 addresses (RFC 6532) pass. */
static int is_atext(unsigned char c)
{
	if (c >= 0x80)
		return 1;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static int is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static unsigned char ascii_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Length of the well-formed UTF-8 sequence at s[0..n), 0 when there is
 * none: RFC 3629 forbids overlong forms, surrogates and anything above
 * U+10FFFF, so the second byte's range depends on the first (table 3-7
 * of the Unicode standard). */
size_t addr_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t want, k;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		want = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		want = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		want = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (n < want || s[1] < lo || s[1] > hi)
		return 0;
	for (k = 2; k < want; k++)
		if ((s[k] & 0xc0) != 0x80)
			return 0;
	return want;
}

static int addr_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, len;

	for (i = 0; i < n; i += len) {
		len = addr_utf8_len(p + i, n - i);
		if (len == 0)
			return 0;
	}
	return 1;
}

/* ------------------------------------------------------------------ */
/* Address identity: local part exact, domain ASCII case-insensitive   */

/* The '@' between local part and domain: the first one outside a quoted
 * string (a quoted local part or a domain literal may hold more). */
static const char *addr_at(const char *a)
{
	int quoted = 0;

	for (; *a != '\0'; a++) {
		if (quoted && *a == '\\' && a[1] != '\0') {
			a++;
			continue;
		}
		if (*a == '"')
			quoted = !quoted;
		else if (*a == '@' && !quoted)
			return a;
	}
	return NULL;
}

static int ascii_casecmp(const char *a, const char *b)
{
	unsigned char ca, cb;

	do {
		ca = ascii_lower((unsigned char)*a++);
		cb = ascii_lower((unsigned char)*b++);
	} while (ca != '\0' && ca == cb);
	return ca - cb;
}

static int addr_same(const char *a, const char *b)
{
	const char *at_a = addr_at(a);
	const char *at_b = addr_at(b);

	if (at_a == NULL || at_b == NULL)
		return at_a == NULL && at_b == NULL && strcmp(a, b) == 0;
	if (at_a - a != at_b - b || memcmp(a, b, (size_t)(at_a - a)) != 0)
		return 0;
	return ascii_casecmp(at_a + 1, at_b + 1) == 0;
}

/* FNV-1a over the same identity addr_same() compares. */
static size_t addr_hash(const char *a)
{
	const char *at = addr_at(a);
	uint64_t h = 14695981039346656037ULL;
	const char *p;

	for (p = a; *p != '\0' && p != at; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	if (at != NULL)
		for (p = at; *p != '\0'; p++)
			h = (h ^ ascii_lower((unsigned char)*p)) *
			    1099511628211ULL;
	return (size_t)h;
}

/* ------------------------------------------------------------------ */
/* The list and its duplicate index                                    */
/*                                                                     */
/* The index is a linear-probing hash table of positions in v, kept    */
/* with the list and updated on every add, so collecting N recipients  */
/* costs O(N) whether they come in one header or one argv word at a    */
/* time.  It holds at most half as many entries as slots.              */

/* Every duplicate-index slot looked at, so a test can count the work of
 * collecting recipients instead of timing it. */
static unsigned long long addr_probes;

unsigned long long addr_probe_count(void)
{
	return addr_probes;
}

void addr_list_init(struct addr_list *l)
{
	l->v = NULL;
	l->n = 0;
	l->cap = 0;
	l->slot = NULL;
	l->nslot = 0;
}

void addr_list_free(struct addr_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->slot);
	addr_list_init(l);
}

/* The slot holding an address equal to `a` (*found = 1), or the empty
 * slot that ends its probe sequence (*found = 0).  The index must exist
 * and have an empty slot. */
static size_t addr_index_find(const struct addr_list *l, const char *a,
			      int *found)
{
	size_t mask = l->nslot - 1;
	size_t i = addr_hash(a) & mask;

	for (;; i = (i + 1) & mask) {
		addr_probes++;
		if (l->slot[i] == 0) {
			*found = 0;
			return i;
		}
		if (addr_same(l->v[l->slot[i] - 1], a)) {
			*found = 1;
			return i;
		}
	}
}

/* Make the index big enough for `want` entries at most half full,
 * rebuilding it from the list when it grows (doubling keeps the total
 * rebuild work linear).  On failure the old index stays intact. */
static int addr_index_reserve(struct addr_list *l, size_t want, struct err *e)
{
	size_t size = l->nslot ? l->nslot : 64;
	size_t *slot, i, j;
	int found;

	while (size < 2 * want) {
		if (size > SIZE_MAX / 2 / sizeof *slot)
			return err_set(e, ERR_OSERR, "out of memory");
		size *= 2;
	}
	if (size == l->nslot)
		return 0;
	slot = calloc(size, sizeof *slot);
	if (slot == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	free(l->slot);
	l->slot = slot;
	l->nslot = size;
	for (i = 0; i < l->n; i++) {
		j = addr_index_find(l, l->v[i], &found);
		l->slot[j] = i + 1;
	}
	return 0;
}

int addr_list_contains(const struct addr_list *l, const char *a)
{
	int found;

	if (l->nslot == 0)
		return 0;       /* nothing was ever added */
	addr_index_find(l, a, &found);
	return found;
}

/* Append `s` (malloc'd; the list owns it on success only), enforcing
 * ADDR_MAX_COUNT. */
static int list_push(struct addr_list *l, char *s, struct err *e)
{
	char **nv;
	size_t ncap;

	if (l->n >= ADDR_MAX_COUNT)
		return err_set(e, ERR_DATAERR,
			       "too many recipients (more than %d)",
			       ADDR_MAX_COUNT);
	if (l->n == l->cap) {
		ncap = l->cap ? l->cap * 2 : 8;
		if (ncap > SIZE_MAX / sizeof *nv)
			return err_set(e, ERR_OSERR, "out of memory");
		nv = realloc(l->v, ncap * sizeof *nv);
		if (nv == NULL)
			return err_set(e, ERR_OSERR, "out of memory");
		l->v = nv;
		l->cap = ncap;
	}
	l->v[l->n++] = s;
	return 0;
}

/* Add `s` (malloc'd, consumed in every case) unless an equal address is
 * listed already. */
static int addr_list_add_owned(struct addr_list *l, char *s, struct err *e)
{
	size_t i;
	int found;

	if (addr_index_reserve(l, l->n + 1, e) < 0) {
		free(s);
		return -1;
	}
	i = addr_index_find(l, s, &found);
	if (found) {
		free(s);
		return 0;
	}
	if (list_push(l, s, e) < 0) {
		free(s);
		return -1;
	}
	l->slot[i] = l->n;
	return 0;
}

int addr_list_add_unique(struct addr_list *l, const char *a, struct err *e)
{
	char *copy = strdup(a);

	if (copy == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	return addr_list_add_owned(l, copy, e);
}

/* Drop entries added after the list had `n` of them, newest first.  In
 * linear probing, removing the most recent insertion just empties its
 * slot (nothing inserted later probed past it); a rebuild inserts in list
 * order, so that stays true across rebuilds. */
static void addr_list_truncate(struct addr_list *l, size_t n)
{
	size_t mask = l->nslot - 1;
	size_t i;

	while (l->n > n) {
		l->n--;
		i = addr_hash(l->v[l->n]) & mask;
		while (l->slot[i] != l->n + 1) {
			addr_probes++;
			i = (i + 1) & mask;
		}
		l->slot[i] = 0;
		free(l->v[l->n]);
	}
}

/* ------------------------------------------------------------------ */
/* Scanner: RFC 5322 lexical tokens with CFWS (sections 3.2.2-3.2.4)    */

enum tok_kind {
	TOK_END,
	TOK_ATOM,       /* 1*atext, dots not included */
	TOK_QUOTED,     /* "..." including the quotes */
	TOK_LITERAL,    /* [...] including the brackets */
	TOK_SPECIAL     /* one of the other printable characters */
};

struct tok {
	enum tok_kind kind;
	size_t start;   /* offset of its first byte */
	size_t end;     /* offset after its last byte */
	char ch;        /* the character of a TOK_SPECIAL */
};

struct scan {
	const char *s;
	size_t len;
	size_t pos;
	size_t elem;            /* where the current list element starts */
	int oserr;              /* the failure was ENOMEM, not bad input */
	char why[96];           /* reason for the failure */
};

/* Record why parsing failed (the first reason wins).  Returns -1. */
static int fail(struct scan *sc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct scan *sc, const char *fmt, ...)
{
	va_list ap;

	if (sc->why[0] != '\0')
		return -1;
	va_start(ap, fmt);
	vsnprintf(sc->why, sizeof sc->why, fmt, ap);
	va_end(ap);
	return -1;
}

/* Length of the line break at p when it is folding (followed by WSP) or
 * ends the text (a header value handed over with its CRLF); 0 when there
 * is no line break at p; -1 for a CR or LF that would end a header line in
 * the middle of the text - a header or command injection. */
static int break_len(const struct scan *sc, size_t p)
{
	size_t n;

	if (sc->s[p] == '\r' && p + 1 < sc->len && sc->s[p + 1] == '\n')
		n = 2;
	else if (sc->s[p] == '\n')
		n = 1;
	else if (sc->s[p] == '\r')
		return -1;
	else
		return 0;
	if (p + n == sc->len || is_wsp(sc->s[p + n]))
		return (int)n;
	return -1;
}

/* Step over a byte inside a quoted string, comment or domain literal:
 * folding, NUL and stray line breaks are handled here.  Returns 0 or -1. */
static int step_inner(struct scan *sc)
{
	int br = break_len(sc, sc->pos);

	if (br < 0)
		return fail(sc, "line break not part of folding");
	if (sc->s[sc->pos] == '\0')
		return fail(sc, "NUL byte");
	sc->pos += br > 0 ? (size_t)br : 1;
	return 0;
}

/* A quoted-pair: the backslash at pos and the byte it escapes. */
static int step_quoted_pair(struct scan *sc, const char *what)
{
	if (sc->pos + 1 >= sc->len)
		return fail(sc, "unterminated %s", what);
	sc->pos++;
	if (sc->s[sc->pos] == '\r' || sc->s[sc->pos] == '\n')
		return fail(sc, "line break not part of folding");
	return step_inner(sc);
}

/* Skip a comment, nested comments and quoted-pairs included (3.2.2). */
static int skip_comment(struct scan *sc)
{
	size_t depth = 0;
	char c;

	while (sc->pos < sc->len) {
		c = sc->s[sc->pos];
		if (c == '\\') {
			if (step_quoted_pair(sc, "comment") < 0)
				return -1;
			continue;
		}
		if (c == '(') {
			depth++;
		} else if (c == ')') {
			if (--depth == 0) {
				sc->pos++;
				return 0;
			}
		}
		if (step_inner(sc) < 0)
			return -1;
	}
	return fail(sc, "unterminated comment");
}

static int skip_cfws(struct scan *sc)
{
	int br;

	while (sc->pos < sc->len) {
		if (is_wsp(sc->s[sc->pos])) {
			sc->pos++;
		} else if ((br = break_len(sc, sc->pos)) > 0) {
			sc->pos += (size_t)br;
		} else if (br < 0) {
			return fail(sc, "line break not part of folding");
		} else if (sc->s[sc->pos] == '(') {
			if (skip_comment(sc) < 0)
				return -1;
		} else {
			break;
		}
	}
	return 0;
}

/* Scan a quoted string ("...") or a domain literal ([...]) starting at
 * pos, up to and including the closing character. */
static int scan_delimited(struct scan *sc, char close, const char *what)
{
	char c;

	sc->pos++;
	while (sc->pos < sc->len) {
		c = sc->s[sc->pos];
		if (c == '\\') {
			if (step_quoted_pair(sc, what) < 0)
				return -1;
			continue;
		}
		if (c == close) {
			sc->pos++;
			return 0;
		}
		if (close == ']' && c == '[')
			return fail(sc, "'[' inside a domain literal");
		if (step_inner(sc) < 0)
			return -1;
	}
	return fail(sc, "unterminated %s", what);
}

/* The next token after any CFWS. */
static int next_tok(struct scan *sc, struct tok *t)
{
	unsigned char c;

	if (skip_cfws(sc) < 0)
		return -1;
	t->start = sc->pos;
	t->ch = '\0';
	if (sc->pos >= sc->len) {
		t->kind = TOK_END;
		t->end = sc->pos;
		return 0;
	}
	c = (unsigned char)sc->s[sc->pos];
	if (c == '"') {
		t->kind = TOK_QUOTED;
		if (scan_delimited(sc, '"', "quoted string") < 0)
			return -1;
	} else if (c == '[') {
		t->kind = TOK_LITERAL;
		if (scan_delimited(sc, ']', "domain literal") < 0)
			return -1;
	} else if (is_atext(c)) {
		t->kind = TOK_ATOM;
		while (sc->pos < sc->len &&
		       is_atext((unsigned char)sc->s[sc->pos]))
			sc->pos++;
	} else if (c == '\0') {
		return fail(sc, "NUL byte");
	} else if (is_ctl(c)) {
		return fail(sc, "control character 0x%02x", c);
	} else if (c == ')') {
		return fail(sc, "unbalanced ')'");
	} else {
		t->kind = TOK_SPECIAL;
		t->ch = (char)c;
		sc->pos++;
	}
	t->end = sc->pos;
	return 0;
}

static int peek_tok(struct scan *sc, struct tok *t)
{
	size_t saved = sc->pos;
	int r = next_tok(sc, t);

	sc->pos = saved;
	return r;
}

static int is_special(const struct tok *t, char c)
{
	return t->kind == TOK_SPECIAL && t->ch == c;
}

static int is_word(const struct tok *t)
{
	return t->kind == TOK_ATOM || t->kind == TOK_QUOTED;
}

/* Name a token for "unexpected ..." messages. */
static void tok_name(const struct tok *t, char *out, size_t outsz)
{
	switch (t->kind) {
	case TOK_END:
		snprintf(out, outsz, "end of text");
		break;
	case TOK_ATOM:
		snprintf(out, outsz, "word");
		break;
	case TOK_QUOTED:
		snprintf(out, outsz, "quoted string");
		break;
	case TOK_LITERAL:
		snprintf(out, outsz, "domain literal");
		break;
	default:
		snprintf(out, outsz, "'%c'", t->ch);
		break;
	}
}

static int fail_unexpected(struct scan *sc, const struct tok *t,
			   const char *where)
{
	char name[32];

	tok_name(t, name, sizeof name);
	return fail(sc, "unexpected %s %s", name, where);
}

/* Append bytes to the address being built; the buffer's ceiling is
 * ADDR_MAX_LEN, so E2BIG means the address is too long. */
static int put(struct scan *sc, struct buf *b, const char *p, size_t n)
{
	if (buf_append(b, p, n) == 0)
		return 0;
	if (errno == E2BIG)
		return fail(sc, "longer than %d bytes", ADDR_MAX_LEN);
	sc->oserr = 1;
	return fail(sc, "out of memory");
}

/* Append a token's text with CFWS removed: folding line breaks dropped
 * from quoted strings (unfolding, 3.2.2), all whitespace from domain
 * literals. */
static int put_tok(struct scan *sc, struct buf *b, const struct tok *t)
{
	size_t i;
	char c;

	if (t->kind == TOK_SPECIAL)
		return put(sc, b, &t->ch, 1);
	if (t->kind == TOK_ATOM)
		return put(sc, b, sc->s + t->start, t->end - t->start);
	for (i = t->start; i < t->end; i++) {
		c = sc->s[i];
		if (c == '\\') {
			/* a quoted-pair stays whole, escaped space too */
			if (put(sc, b, sc->s + i, 2) < 0)
				return -1;
			i++;
			continue;
		}
		if (c == '\r' || c == '\n')
			continue;
		if (t->kind == TOK_LITERAL && is_wsp(c))
			continue;
		if (put(sc, b, &c, 1) < 0)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Grammar (RFC 5322 3.4 and 3.4.1, with the obsolete forms of 4.4)     */

/* local-part = word *("." word), which covers dot-atom, quoted-string and
 * obs-local-part; CFWS around the dots is dropped.  Sets *quoted when a
 * word was a quoted string. */
static int parse_local(struct scan *sc, struct buf *b, int *quoted)
{
	struct tok t;

	if (next_tok(sc, &t) < 0)
		return -1;
	if (is_special(&t, '@'))
		return fail(sc, "empty local part");
	if (!is_word(&t))
		return fail_unexpected(sc, &t, "where an address should be");
	for (;;) {
		*quoted |= t.kind == TOK_QUOTED;
		if (put_tok(sc, b, &t) < 0 || peek_tok(sc, &t) < 0)
			return -1;
		if (!is_special(&t, '.'))
			return 0;
		next_tok(sc, &t);
		if (put(sc, b, ".", 1) < 0 || next_tok(sc, &t) < 0)
			return -1;
		if (!is_word(&t))
			return fail(sc, "misplaced '.' in local part");
	}
}

/* domain = dot-atom / domain-literal / obs-domain. */
static int parse_domain(struct scan *sc, struct buf *b)
{
	struct tok t;

	if (next_tok(sc, &t) < 0)
		return -1;
	if (t.kind == TOK_LITERAL)
		return put_tok(sc, b, &t);
	if (t.kind != TOK_ATOM) {
		if (t.kind == TOK_END || is_special(&t, ',') ||
		    is_special(&t, ';') || is_special(&t, '>'))
			return fail(sc, "empty domain");
		return fail_unexpected(sc, &t, "where a domain should be");
	}
	for (;;) {
		if (put_tok(sc, b, &t) < 0 || peek_tok(sc, &t) < 0)
			return -1;
		if (!is_special(&t, '.'))
			return 0;
		next_tok(sc, &t);
		if (put(sc, b, ".", 1) < 0 || next_tok(sc, &t) < 0)
			return -1;
		if (t.kind != TOK_ATOM)
			return fail(sc, "misplaced '.' in domain");
	}
}

/* addr-spec = local-part "@" domain, or a bare local name ("root") that
 * the submission server qualifies.  A lone quoted string is refused: it is
 * a display name whose address was forgotten far more often than a real
 * local recipient. */
static int parse_addr_spec(struct scan *sc, struct buf *b)
{
	struct tok t;
	int quoted = 0;

	if (parse_local(sc, b, &quoted) < 0 || peek_tok(sc, &t) < 0)
		return -1;
	if (is_special(&t, '@')) {
		next_tok(sc, &t);
		if (put(sc, b, "@", 1) < 0)
			return -1;
		return parse_domain(sc, b);
	}
	if (is_word(&t))
		return fail(sc, "words without '.' or '<address>'");
	if (quoted)
		return fail(sc, "quoted name without an address");
	return 0;
}

/* obs-route = obs-domain-list ":" (4.4): "@a,@b:" before the addr-spec in
 * an angle-addr.  The route is checked and thrown away (RFC 5321 C). */
static int skip_route(struct scan *sc)
{
	struct buf scratch;
	struct tok t;
	int domains = 0;
	int r = 0;

	buf_init(&scratch, ADDR_MAX_LEN);
	while (r == 0) {
		if ((r = next_tok(sc, &t)) < 0)
			break;
		if (is_special(&t, ':')) {
			if (domains == 0)
				r = fail(sc, "empty source route");
			break;
		}
		if (is_special(&t, '@')) {
			buf_reset(&scratch);
			r = parse_domain(sc, &scratch);
			domains++;
		} else if (!is_special(&t, ',')) {
			r = fail_unexpected(sc, &t, "in source route");
		}
	}
	buf_free(&scratch);
	if (r < 0)
		return -1;
	return 0;
}

/* angle-addr = "<" [obs-route] addr-spec ">", after the "<". */
static int parse_angle_addr(struct scan *sc, struct buf *b)
{
	struct tok t;

	if (peek_tok(sc, &t) < 0)
		return -1;
	if (is_special(&t, '>'))
		return fail(sc, "empty address <>");
	if ((is_special(&t, '@') || is_special(&t, ',')) && skip_route(sc) < 0)
		return -1;
	if (parse_addr_spec(sc, b) < 0 || next_tok(sc, &t) < 0)
		return -1;
	if (is_special(&t, '>'))
		return 0;
	if (memchr(sc->s + t.start, '>', sc->len - t.start) == NULL)
		return fail(sc, "'<' without '>'");
	return fail_unexpected(sc, &t, "inside <...>");
}

/* Skip a display name up to (not including) the special `stop`.  Any word
 * and most unquoted specials are let through: "John Q. Public" and
 * "j@x <j@x>" are common and harmless; encoded-words are plain atoms. */
static int skip_phrase(struct scan *sc, char stop)
{
	struct tok t;

	for (;;) {
		if (peek_tok(sc, &t) < 0)
			return -1;
		if (is_special(&t, stop))
			return 0;
		if (t.kind == TOK_END)
			return fail(sc, "missing '%c'", stop);
		if (is_special(&t, '<') || is_special(&t, '>'))
			return fail_unexpected(sc, &t, "in display name");
		next_tok(sc, &t);
	}
}

enum elem_kind { ELEM_ADDR_SPEC, ELEM_NAME_ADDR, ELEM_GROUP };

/* Decide what the list element at pos is by looking ahead for the first
 * '<' (name-addr), ':' before any '@' (group) or end of element. */
static int classify(struct scan *sc, enum elem_kind *kind)
{
	size_t saved = sc->pos;
	struct tok t;
	int saw_at = 0;
	int r = 0;

	*kind = ELEM_ADDR_SPEC;
	for (;;) {
		if ((r = next_tok(sc, &t)) < 0)
			break;
		if (t.kind == TOK_END || is_special(&t, ',') ||
		    is_special(&t, ';') || is_special(&t, '>'))
			break;
		if (is_special(&t, '<')) {
			*kind = ELEM_NAME_ADDR;
			break;
		}
		if (is_special(&t, ':')) {
			if (!saw_at)
				*kind = ELEM_GROUP;
			break;
		}
		if (is_special(&t, '@'))
			saw_at = 1;
	}
	sc->pos = saved;
	return r;
}

/* Parse one mailbox into `b` (*got = 1), or a group's "display-name:"
 * (*got = 0, *in_group set).  The element must end at ',', ';' or the end
 * of the text. */
static int parse_element(struct scan *sc, int *in_group, struct buf *b,
			 int *got)
{
	enum elem_kind kind;
	struct tok t;

	*got = 0;
	if (classify(sc, &kind) < 0)
		return -1;
	if (kind == ELEM_GROUP) {
		if (*in_group)
			return fail(sc, "group inside a group");
		if (skip_phrase(sc, ':') < 0)
			return -1;
		next_tok(sc, &t);
		*in_group = 1;
		return 0;
	}
	if (kind == ELEM_NAME_ADDR) {
		if (skip_phrase(sc, '<') < 0)
			return -1;
		next_tok(sc, &t);
		if (parse_angle_addr(sc, b) < 0)
			return -1;
	} else if (parse_addr_spec(sc, b) < 0) {
		return -1;
	}
	if (peek_tok(sc, &t) < 0)
		return -1;
	if (t.kind != TOK_END && !is_special(&t, ',') && !is_special(&t, ';'))
		return fail_unexpected(sc, &t, kind == ELEM_NAME_ADDR ?
				       "after '>'" : "after address");
	*got = 1;
	return 0;
}

/* Control characters can reach an address only through a quoted local
 * part; none of them is allowed in an RFC 5321 path. */
static int check_no_ctl(struct scan *sc, const struct buf *b)
{
	size_t i;

	for (i = 0; i < b->len; i++)
		if (is_ctl((unsigned char)b->data[i]))
			return fail(sc, "control character in address");
	return 0;
}

/* Parse the whole list, adding each address to `out`. */
static int parse_list(struct scan *sc, struct addr_list *out, struct err *e)
{
	struct buf b;
	struct tok t;
	int in_group = 0;
	int got;
	char *s;

	for (;;) {
		sc->elem = sc->pos;
		if (peek_tok(sc, &t) < 0)
			return -1;
		sc->elem = t.start;
		if (t.kind == TOK_END)
			return 0;
		if (is_special(&t, ',') || is_special(&t, ';')) {
			next_tok(sc, &t);
			if (t.ch == ';')
				in_group = 0;
			continue;
		}
		buf_init(&b, ADDR_MAX_LEN);
		if (parse_element(sc, &in_group, &b, &got) < 0 ||
		    (got && check_no_ctl(sc, &b) < 0)) {
			buf_free(&b);
			return -1;
		}
		if (!got) {
			buf_free(&b);
			continue;
		}
		s = buf_steal(&b);
		if (s == NULL)
			return err_set(e, ERR_OSERR, "out of memory");
		if (addr_list_add_owned(out, s, e) < 0)
			return -1;
	}
}

/* Where the list element starting at `start` ends, for error messages:
 * the first ',' or ';' outside quotes, comments, brackets and <...>. */
static size_t element_end(const char *s, size_t len, size_t start)
{
	size_t comment = 0;
	int quoted = 0, angle = 0, literal = 0;
	size_t i;

	for (i = start; i < len; i++) {
		if ((quoted || comment || literal) && s[i] == '\\') {
			if (++i == len)
				break;
			continue;
		}
		if (quoted) {
			quoted = s[i] != '"';
		} else if (literal) {
			literal = s[i] != ']';
		} else if (s[i] == '(') {
			comment++;
		} else if (comment) {
			comment -= s[i] == ')';
		} else if (s[i] == '"') {
			quoted = 1;
		} else if (s[i] == '[') {
			literal = 1;
		} else if (s[i] == '<') {
			angle = 1;
		} else if (s[i] == '>') {
			angle = 0;
		} else if ((s[i] == ',' || s[i] == ';') && !angle) {
			break;
		}
	}
	while (i > start && (is_wsp(s[i - 1]) || s[i - 1] == '\r' ||
			     s[i - 1] == '\n'))
		i--;
	return i;
}

/* Copy s[0..n) for quoting in a one-line message: control bytes become
 * \r, \n, \t, \0 or \xNN, so do bytes that are not part of well-formed
 * UTF-8 (0x9b is a C1 control to some terminals), and text past
 * ADDR_SHOW_MAX bytes is cut (never inside a UTF-8 sequence) and marked
 * "...". */
static void show_text(char *out, size_t outsz, const char *s, size_t n)
{
	size_t o = 0, i, seq;
	unsigned char c;
	int cut = 0;

	if (n > ADDR_SHOW_MAX) {
		n = ADDR_SHOW_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		cut = 1;
	}
	for (i = 0; i < n && o + 8 < outsz; i++) {
		c = (unsigned char)s[i];
		if (c == '\r')
			o += (size_t)snprintf(out + o, outsz - o, "\\r");
		else if (c == '\n')
			o += (size_t)snprintf(out + o, outsz - o, "\\n");
		else if (c == '\t')
			o += (size_t)snprintf(out + o, outsz - o, "\\t");
		else if (c == '\0')
			o += (size_t)snprintf(out + o, outsz - o, "\\0");
		else if (is_ctl(c))
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
		else if (c < 0x80)
			out[o++] = (char)c;
		else if ((seq = addr_utf8_len((const unsigned char *)s + i,
					      n - i)) == 0)
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
		else {
			memcpy(out + o, s + i, seq);
			o += seq;
			i += seq - 1;
		}
	}
	if (cut && o + 4 < outsz)
		o += (size_t)snprintf(out + o, outsz - o, "...");
	out[o] = '\0';
}

int addr_parse_list(const char *text, size_t len, struct addr_list *out,
		    struct err *e)
{
	struct scan sc;
	size_t n0 = out->n;
	char shown[ADDR_SHOW_MAX * 4 + 8];
	int r;

	if (len == 0)
		return 0;
	memset(&sc, 0, sizeof sc);
	sc.s = text;
	sc.len = len;
	r = parse_list(&sc, out, e);
	if (r == 0)
		return 0;
	addr_list_truncate(out, n0);
	if (err_isset(e))
		return -1;
	if (sc.oserr)
		return err_set(e, ERR_OSERR, "out of memory");
	show_text(shown, sizeof shown, text + sc.elem,
		  element_end(text, len, sc.elem) - sc.elem);
	return err_set(e, ERR_DATAERR, "invalid address \"%s\": %s", shown,
		       sc.why);
}

/* ------------------------------------------------------------------ */
/* Single addresses                                                    */

int addr_has_crlfnul(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
			return 1;
	return 0;
}

/* Why `a` cannot go inside <...> of MAIL FROM / RCPT TO, or NULL. */
static const char *envelope_problem(const char *a, size_t len)
{
	int quoted = 0;
	size_t i;
	unsigned char c;

	if (len > ADDR_MAX_LEN)
		return "too long";
	if (!addr_utf8_valid(a, len))
		return "invalid UTF-8";
	for (i = 0; i < len; i++) {
		c = (unsigned char)a[i];
		if (is_ctl(c))
			return "control character";
		if (quoted) {
			if (c == '\\') {
				if (i + 1 == len ||
				    is_ctl((unsigned char)a[i + 1]))
					return "bad quoted pair";
				i++;
			} else if (c == '"') {
				quoted = 0;
			}
		} else if (c == '"') {
			quoted = 1;
		} else if (c == '<' || c == '>') {
			return "'<' or '>' in address";
		} else if (c == ' ') {
			return "space outside quotes";
		}
	}
	return quoted ? "unterminated quoted string" : NULL;
}

int addr_check_envelope(const char *a, struct err *e)
{
	char shown[ADDR_SHOW_MAX * 4 + 8];
	size_t len = strlen(a);
	const char *why = envelope_problem(a, len);

	if (why == NULL)
		return 0;
	show_text(shown, sizeof shown, a, len);
	if (len > ADDR_MAX_LEN)
		return err_set(e, ERR_DATAERR,
			       "invalid envelope address \"%s\": longer than "
			       "%d bytes", shown, ADDR_MAX_LEN);
	return err_set(e, ERR_DATAERR, "invalid envelope address \"%s\": %s",
		       shown, why);
}

int addr_is_8bit(const char *a)
{
	for (; *a != '\0'; a++)
		if ((unsigned char)*a >= 0x80)
			return 1;
	return 0;
}

/* 1 if a[0..n) has a byte >= 0x80. */
static int addr_has_8bit_n(const char *a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)a[i] >= 0x80)
			return 1;
	return 0;
}

/* Refuse `addr` for a server without SMTPUTF8, saying why. */
static int addr_ascii_refuse(const char *addr, const char *why,
			     struct err *e)
{
	char shown[ADDR_SHOW_MAX * 4 + 8];

	show_text(shown, sizeof shown, addr, strlen(addr));
	return err_set(e, ERR_DATAERR, "address \"%s\" needs SMTPUTF8, which "
		       "the server does not offer: %s", shown, why);
}

/* local-part "@" A-label domain, malloc'd into *out. */
static int addr_ascii_join(const char *addr, size_t local_len,
			   const char *domain, char **out, struct err *e)
{
	struct buf b;

	buf_init(&b, ADDR_MAX_LEN);
	if (buf_append(&b, addr, local_len + 1) < 0 ||
	    buf_append_str(&b, domain) < 0) {
		buf_free(&b);
		if (errno == E2BIG)
			return addr_ascii_refuse(addr, "too long with the "
						 "domain in ASCII", e);
		return err_set(e, ERR_OSERR, "out of memory");
	}
	*out = buf_steal(&b);
	return *out ? 0 : err_set(e, ERR_OSERR, "out of memory");
}

int addr_to_ascii(const char *addr, char **out, struct err *e)
{
	const char *at = addr_at(addr);
	size_t local_len = at ? (size_t)(at - addr) : strlen(addr);
	char *ace = NULL;
	const char *why;
	int rc;

	*out = NULL;
	if (!addr_is_8bit(addr)) {
		*out = strdup(addr);
		return *out ? 0 : err_set(e, ERR_OSERR, "out of memory");
	}
	if (at == NULL || addr_has_8bit_n(addr, local_len))
		return addr_ascii_refuse(addr, "the local part is not ASCII", e);
	if (at[1] == '[')
		return addr_ascii_refuse(addr, "non-ASCII domain literal", e);
	rc = ext_idn_to_ascii(at + 1, &ace, &why);
	if (rc == EXT_IDN_NOMEM)
		return err_set(e, ERR_OSERR, "out of memory");
	if (rc != EXT_IDN_OK)
		return addr_ascii_refuse(addr, why, e);
	rc = addr_ascii_join(addr, local_len, ace, out, e);
	free(ace);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Display names for headers                                           */

static int needs_encoding(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;

	for (; *p != '\0'; p++)
		if (is_ctl(*p) || *p >= 0x80)
			return 1;
	return 0;
}

/* Usable as an RFC 5322 phrase without quotes: atoms separated by
 * spaces, and nothing a reader would take for an encoded-word ("=?"). */
static int is_plain_phrase(const char *name)
{
	size_t len = strlen(name);
	size_t i;

	if (len == 0)
		return 1;
	if (name[0] == ' ' || name[len - 1] == ' ' || strstr(name, "=?"))
		return 0;
	for (i = 0; i < len; i++)
		if (name[i] != ' ' && !is_atext((unsigned char)name[i]))
			return 0;
	return 1;
}

static char *quote_phrase(const char *name)
{
	struct buf b;
	int r;

	buf_init(&b, 2 * strlen(name) + 3);
	r = buf_append_byte(&b, '"');
	for (; r == 0 && *name != '\0'; name++) {
		if (*name == '"' || *name == '\\')
			r = buf_append_byte(&b, '\\');
		if (r == 0)
			r = buf_append_byte(&b, *name);
	}
	if (r == 0)
		r = buf_append_byte(&b, '"');
	if (r < 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/* Bytes in the UTF-8 sequence starting at s (1 for a stray or invalid
 * byte), so that an encoded-word boundary never cuts a character. */
static size_t utf8_seq_len(const unsigned char *s)
{
	size_t want, n;

	if (s[0] >= 0xc0 && s[0] <= 0xdf)
		want = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		want = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf7)
		want = 4;
	else
		return 1;
	for (n = 1; n < want && (s[n] & 0xc0) == 0x80; n++)
		;
	return n;
}

static int base64_append(struct buf *b, const unsigned char *p, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"abcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];
	uint32_t v;
	size_t i;

	for (i = 0; i < n; i += 3) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = tab[(v >> 18) & 63];
		q[1] = tab[(v >> 12) & 63];
		q[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? tab[v & 63] : '=';
		if (buf_append(b, q, 4) < 0)
			return -1;
	}
	return 0;
}

/* RFC 2047 B encoded-words in UTF-8 (the charset spelled "utf-8", as
 * msmtp writes it), at most ADDR_EW_RAW bytes (whole characters) each,
 * separated by single spaces (ignored between adjacent encoded-words
 * when decoding, RFC 2047 6.2). */
static char *encode_words(const char *name)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t len = strlen(name);
	size_t pos = 0, n, seq;
	struct buf b;
	int r = 0;

	buf_init(&b, 4 * len + 128);
	while (r == 0 && pos < len) {
		for (n = 0; pos + n < len; n += seq) {
			seq = utf8_seq_len(s + pos + n);
			if (n + seq > ADDR_EW_RAW)
				break;
		}
		if (pos > 0)
			r = buf_append_byte(&b, ' ');
		if (r == 0)
			r = buf_append_str(&b, "=?utf-8?B?");
		if (r == 0)
			r = base64_append(&b, s + pos, n);
		if (r == 0)
			r = buf_append_str(&b, "?=");
		pos += n;
	}
	if (r < 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

char *addr_encode_display_name(const char *name)
{
	if (needs_encoding(name))
		return encode_words(name);
	if (is_plain_phrase(name))
		return strdup(name);
	return quote_phrase(name);
}
