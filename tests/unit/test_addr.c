/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "err.h"

/* Join a list as "a|b|c" for comparison with a table entry. */
static void join_list(const struct addr_list *l, char *out, size_t outsz)
{
	size_t o = 0, i;

	out[0] = '\0';
	for (i = 0; i < l->n; i++)
		o += (size_t)snprintf(out + o, outsz - o, "%s%s",
				      i ? "|" : "", l->v[i]);
	assert_true(o < outsz);
}

/* ------------------------------------------------------------------ */
/* Valid address lists                                                 */

struct parse_case {
	const char *in;
	const char *want;       /* addresses joined by '|' */
};

static const struct parse_case valid_cases[] = {
	{ "", "" },
	{ "   ", "" },
	{ "(just a comment)", "" },
	/* RFC 5322 A.1.1 */
	{ "John Doe <jdoe@machine.example>", "jdoe@machine.example" },
	{ "Mary Smith <mary@example.net>", "mary@example.net" },
	/* A.1.2 */
	{ "\"Joe Q. Public\" <john.q.public@example.com>",
	  "john.q.public@example.com" },
	{ "Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
	  "mary@x.test|jdoe@example.org|one@y.test" },
	{ "<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
	  "boss@nil.test|sysservices@example.net" },
	/* A.1.3 */
	{ "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
	  "c@a.test|joe@where.test|jdoe@one.test" },
	{ "Undisclosed recipients:;", "" },
	{ "undisclosed-recipients:;", "" },
	/* A.5 */
	{ "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
	  "pete@silly.test" },
	{ "A Group(Some people)\r\n     :Chris Jones <c@(Chris's host.)public.example>,\r\n"
	  "         joe@example.org,\r\n  John <jdoe@one.test> (my dear friend); (the end of the group)",
	  "c@public.example|joe@example.org|jdoe@one.test" },
	{ "(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;", "" },
	/* A.6.1 and A.6.3, obsolete syntax */
	{ "Joe Q. Public <john.q.public@example.com>",
	  "john.q.public@example.com" },
	{ "Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example",
	  "mary@example.net|jdoe@test.example" },
	{ "<@a.test,@b.test:user@x>", "user@x" },
	{ "<,@a.test,,@b.test:user@x>", "user@x" },
	{ "John Doe <jdoe@machine(comment).  example>", "jdoe@machine.example" },
	{ "Mary Smith\r\n     \r\n <mary@example.net>", "mary@example.net" },
	{ "a . b @ x", "a.b@x" },
	/* folding and line ends */
	{ "a@x,\r\n b@y,\n\tc@z", "a@x|b@y|c@z" },
	{ "a@x\r\n", "a@x" },
	{ "a@x\n", "a@x" },
	{ "\"a\r\n b\"@x", "\"a b\"@x" },
	/* bare local names */
	{ "root", "root" },
	{ "root, www-data", "root|www-data" },
	{ "<root>", "root" },
	{ "Admin <root>", "root" },
	/* quoted local parts keep their quotes and quoted-pairs */
	{ "\"a b\"@x", "\"a b\"@x" },
	{ "\"a\\\"b\"@x", "\"a\\\"b\"@x" },
	{ "\"quoted.local\"@x(comment)", "\"quoted.local\"@x" },
	{ "\"a,b;c\"@x, d@y", "\"a,b;c\"@x|d@y" },
	{ "\"a\".b@x", "\"a\".b@x" },
	/* domain literals */
	{ "a@[192.0.2.1]", "a@[192.0.2.1]" },
	{ "a@[ IPv6:2001:db8::1 ]", "a@[IPv6:2001:db8::1]" },
	{ "x <a@[192.0.2.1]>", "a@[192.0.2.1]" },
	{ "a@[x\\ y\\\\ ]", "a@[x\\ y\\\\]" },
	/* empty elements, trailing separators, no spaces */
	{ ", ,a@x,", "a@x" },
	{ "a@x;", "a@x" },
	{ "a@x,b@y,c@z", "a@x|b@y|c@z" },
	{ ",,,", "" },
	/* display names */
	{ "\"Doe, John\" <j@x>", "j@x" },
	{ "j@x <j@x>", "j@x" },
	{ "John Q. Public <jqp@x>", "jqp@x" },
	{ "Dr. J. [ret] <j@x>", "j@x" },
	{ "John <j@x> (work)", "j@x" },
	{ "=?utf-8?q?J=C3=B6rg_M=C3=BCller?= <j@x>", "j@x" },
	{ "=?UTF-8?B?SsO2cmc=?= <j@x>, k@y", "j@x|k@y" },
	/* groups */
	{ "G1: a@x; G2: b@y;", "a@x|b@y" },
	{ "A Group: a@x", "a@x" },
	{ "G:;a@x", "a@x" },
	/* 8-bit kept byte for byte */
	{ "J\xc3\xb6rg <j\xc3\xb6rg@b\xc3\xbc" "cher.example>",
	  "j\xc3\xb6rg@b\xc3\xbc" "cher.example" },
	{ "\xe7\x94\xb0\xe4\xb8\xad@\xe4\xbe\x8b.jp", "\xe7\x94\xb0\xe4\xb8\xad@\xe4\xbe\x8b.jp" },
	/* duplicates: local part exact, domain case-insensitive */
	{ "a@x, A@X, a@X, b@y, <a@x>", "a@x|A@X|b@y" },
	{ "root, root, ROOT", "root|ROOT" },
	{ "\"a@b\"@x, \"a@b\"@X", "\"a@b\"@x" },
	{ "user+tag@example.com", "user+tag@example.com" },
};

static void test_parse_valid(void **state)
{
	char got[1024];
	struct addr_list l;
	struct err e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof valid_cases / sizeof valid_cases[0]; i++) {
		addr_list_init(&l);
		err_init(&e);
		if (addr_parse_list(valid_cases[i].in,
				    strlen(valid_cases[i].in), &l, &e) != 0)
			fail_msg("case %zu <%s>: %s", i, valid_cases[i].in,
				 e.msg);
		join_list(&l, got, sizeof got);
		if (strcmp(got, valid_cases[i].want) != 0)
			fail_msg("case %zu <%s>: got <%s> want <%s>", i,
				 valid_cases[i].in, got, valid_cases[i].want);
		assert_false(err_isset(&e));
		addr_list_free(&l);
	}
}

/* ------------------------------------------------------------------ */
/* Errors                                                              */

struct error_case {
	const char *in;
	size_t len;             /* 0: strlen(in) */
	const char *want;       /* the whole message */
};

static const struct error_case error_cases[] = {
	{ "\"a@x", 0, "invalid address \"\"a@x\": unterminated quoted string" },
	{ "Joe \"Q <j@x>", 0,
	  "invalid address \"Joe \"Q <j@x>\": unterminated quoted string" },
	{ "(a@x", 0, "invalid address \"(a@x\": unterminated comment" },
	{ "a@x (a (b)", 0, "invalid address \"a@x (a (b)\": unterminated comment" },
	{ "a@x)", 0, "invalid address \"a@x)\": unbalanced ')'" },
	{ "John <j@x", 0, "invalid address \"John <j@x\": '<' without '>'" },
	{ "John <j@x, k@y", 0,
	  "invalid address \"John <j@x, k@y\": '<' without '>'" },
	{ "John j@x>", 0,
	  "invalid address \"John j@x>\": words without '.' or '<address>'" },
	{ "j@x>", 0, "invalid address \"j@x>\": unexpected '>' after address" },
	{ "a@x\r\nb@y", 0,
	  "invalid address \"a@x\\r\\nb@y\": line break not part of folding" },
	{ "a@x\nBcc: evil@y", 0,
	  "invalid address \"a@x\\nBcc: evil@y\": line break not part of folding" },
	{ "a@x\rb@y", 0,
	  "invalid address \"a@x\\rb@y\": line break not part of folding" },
	{ "\"a\r\nb\"@x", 0,
	  "invalid address \"\"a\\r\\nb\"@x\": line break not part of folding" },
	{ "a@x\r\n\r\n", 0,
	  "invalid address \"a@x\": line break not part of folding" },
	{ "a\0@x", 4, "invalid address \"a\\0@x\": NUL byte" },
	{ "\"a\0\"@x", 6, "invalid address \"\"a\\0\"@x\": NUL byte" },
	{ "a\x01@x", 0, "invalid address \"a\\x01@x\": control character 0x01" },
	{ "\"a\tb\"@x", 0,
	  "invalid address \"\"a\\tb\"@x\": control character in address" },
	{ "@x", 0, "invalid address \"@x\": empty local part" },
	{ "ok@x, @x", 0, "invalid address \"@x\": empty local part" },
	{ "a@", 0, "invalid address \"a@\": empty domain" },
	{ "a@, b@y", 0, "invalid address \"a@\": empty domain" },
	{ "<a@>", 0, "invalid address \"<a@>\": empty domain" },
	{ "<a@x> junk", 0,
	  "invalid address \"<a@x> junk\": unexpected word after '>'" },
	{ "<a@x> <b@y>", 0,
	  "invalid address \"<a@x> <b@y>\": unexpected '<' after '>'" },
	{ "<a@x>\"q\"", 0,
	  "invalid address \"<a@x>\"q\"\": unexpected quoted string after '>'" },
	{ "<>", 0, "invalid address \"<>\": empty address <>" },
	{ "a@x@y", 0, "invalid address \"a@x@y\": unexpected '@' after address" },
	{ "a..b@x", 0, "invalid address \"a..b@x\": misplaced '.' in local part" },
	{ "a.@x", 0, "invalid address \"a.@x\": misplaced '.' in local part" },
	{ ".a@x", 0,
	  "invalid address \".a@x\": unexpected '.' where an address should be" },
	{ "a@x.", 0, "invalid address \"a@x.\": misplaced '.' in domain" },
	{ "a@x..y", 0, "invalid address \"a@x..y\": misplaced '.' in domain" },
	{ "a@\"x\"", 0,
	  "invalid address \"a@\"x\"\": unexpected quoted string where a domain should be" },
	{ "John Smith", 0,
	  "invalid address \"John Smith\": words without '.' or '<address>'" },
	{ "\"John Smith\"", 0,
	  "invalid address \"\"John Smith\"\": quoted name without an address" },
	{ "a@[1.2.3.4", 0,
	  "invalid address \"a@[1.2.3.4\": unterminated domain literal" },
	{ "a@[1.[2]", 0,
	  "invalid address \"a@[1.[2]\": '[' inside a domain literal" },
	{ "A: B: c@d;", 0, "invalid address \"B: c@d\": group inside a group" },
	{ "<@a.test:>", 0,
	  "invalid address \"<@a.test:>\": unexpected '>' where an address should be" },
	{ "<@a.test mary@x>", 0,
	  "invalid address \"<@a.test mary@x>\": unexpected word in source route" },
	{ "<,:mary@x>", 0, "invalid address \"<,:mary@x>\": empty source route" },
	{ "Joe <<j@x>>", 0,
	  "invalid address \"Joe <<j@x>>\": unexpected '<' where an address should be" },
	{ "Joe > <j@x>", 0,
	  "invalid address \"Joe > <j@x>\": unexpected '>' after address" },
	{ "a@x:y", 0, "invalid address \"a@x:y\": unexpected ':' after address" },
	{ "\\a@x", 0,
	  "invalid address \"\\a@x\": unexpected '\\' where an address should be" },
	{ "a\\", 0, "invalid address \"a\\\": unexpected '\\' after address" },
	{ "\"a\\", 0, "invalid address \"\"a\\\": unterminated quoted string" },
	{ "good@x, Bad Name", 0,
	  "invalid address \"Bad Name\": words without '.' or '<address>'" },
};

static void test_parse_errors(void **state)
{
	struct addr_list l;
	struct err e;
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
		addr_list_init(&l);
		err_init(&e);
		len = error_cases[i].len ? error_cases[i].len
					 : strlen(error_cases[i].in);
		if (addr_parse_list(error_cases[i].in, len, &l, &e) != -1)
			fail_msg("case %zu <%s>: accepted", i,
				 error_cases[i].in);
		assert_int_equal(e.code, ERR_DATAERR);
		if (strcmp(e.msg, error_cases[i].want) != 0)
			fail_msg("case %zu: got <%s> want <%s>", i, e.msg,
				 error_cases[i].want);
		assert_int_equal(l.n, 0);
		addr_list_free(&l);
	}
}

/* Over-long addresses, and long offending text cut in the message. */
static void test_parse_length_limit(void **state)
{
	char text[ADDR_MAX_LEN + 16];
	struct addr_list l;
	struct err e;
	size_t local;

	(void)state;
	/* exactly ADDR_MAX_LEN bytes: "aaa...a@x" */
	local = ADDR_MAX_LEN - 2;
	memset(text, 'a', local);
	memcpy(text + local, "@x", 3);
	addr_list_init(&l);
	err_init(&e);
	assert_int_equal(addr_parse_list(text, strlen(text), &l, &e), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(strlen(l.v[0]), ADDR_MAX_LEN);
	addr_list_free(&l);

	/* one byte more */
	memset(text, 'a', local + 1);
	memcpy(text + local + 1, "@x", 3);
	err_init(&e);
	assert_int_equal(addr_parse_list(text, strlen(text), &l, &e), -1);
	assert_int_equal(e.code, ERR_DATAERR);
	assert_non_null(strstr(e.msg, "longer than 256 bytes"));
	/* the message quotes 64 bytes and marks the cut */
	assert_non_null(strstr(e.msg, "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\""));
	assert_true(strlen(e.msg) < 120);
	assert_int_equal(l.n, 0);

	/* CFWS does not count towards the length */
	text[0] = '\0';
	snprintf(text, sizeof text, "Name (%0200d) <a@x>", 0);
	err_init(&e);
	assert_int_equal(addr_parse_list(text, strlen(text), &l, &e), 0);
	assert_string_equal(l.v[0], "a@x");
	addr_list_free(&l);
}

/* A message never cuts a UTF-8 sequence when it shortens the text. */
static void test_error_text_utf8_cut(void **state)
{
	char text[256];
	struct addr_list l;
	struct err e;
	size_t i, o = 0;

	(void)state;
	text[o++] = 'x';
	for (i = 0; i < 40; i++) {
		text[o++] = '\xc3';
		text[o++] = '\xa9';
	}
	memcpy(text + o, " y", 3);
	addr_list_init(&l);
	err_init(&e);
	assert_int_equal(addr_parse_list(text, strlen(text), &l, &e), -1);
	/* 'x' + 31 whole two-byte characters = 63 bytes, then "..." */
	assert_non_null(strstr(e.msg, "\xc3\xa9...\""));
	assert_null(strstr(e.msg, "\xc3..."));
}

/* A failed parse leaves the list as it was. */
static void test_parse_rolls_back(void **state)
{
	struct addr_list l;
	struct err e;
	const char *bad = "new1@x, new2@y, bad@";

	(void)state;
	addr_list_init(&l);
	err_init(&e);
	assert_int_equal(addr_list_add_unique(&l, "z@z", &e), 0);
	assert_int_equal(addr_parse_list(bad, strlen(bad), &l, &e), -1);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0], "z@z");
	addr_list_free(&l);
}

/* Several calls add to one list without duplicates; `len` is honoured. */
static void test_parse_appends_and_len(void **state)
{
	char got[256];
	struct addr_list l;
	struct err e;
	const char *text = "a@x, b@y, c@z";

	(void)state;
	addr_list_init(&l);
	err_init(&e);
	assert_int_equal(addr_parse_list(text, 3, &l, &e), 0);
	assert_int_equal(addr_parse_list("A@x, a@X", 8, &l, &e), 0);
	assert_int_equal(addr_parse_list(text, strlen(text), &l, &e), 0);
	join_list(&l, got, sizeof got);
	assert_string_equal(got, "a@x|A@x|b@y|c@z");
	/* NULL text with zero length is an empty list */
	assert_int_equal(addr_parse_list(NULL, 0, &l, &e), 0);
	assert_int_equal(l.n, 4);
	assert_false(err_isset(&e));
	addr_list_free(&l);
	assert_null(l.v);
	assert_int_equal(l.n, 0);
}

/* "a0@x,a1@x,..." with `count` addresses, malloc'd. */
static char *make_many(size_t first, size_t count, size_t *len)
{
	size_t cap = count * 16 + 1, o = 0, i;
	char *s = malloc(cap);

	assert_non_null(s);
	for (i = 0; i < count; i++)
		o += (size_t)snprintf(s + o, cap - o, "%sa%zu@x",
				      i ? "," : "", first + i);
	*len = o;
	return s;
}

/* ADDR_MAX_COUNT addresses parse (quickly: the dedup is hashed); one more
 * is refused, by the parser and by addr_list_add_unique. */
static void test_count_limit(void **state)
{
	struct addr_list l;
	struct err e;
	size_t len;
	char *many;

	(void)state;
	addr_list_init(&l);
	err_init(&e);
	many = make_many(0, ADDR_MAX_COUNT, &len);
	assert_int_equal(addr_parse_list(many, len, &l, &e), 0);
	free(many);
	assert_int_equal(l.n, ADDR_MAX_COUNT);
	assert_string_equal(l.v[ADDR_MAX_COUNT - 1], "a99999@x");

	/* duplicates of listed addresses are still fine */
	assert_int_equal(addr_parse_list("a5@X, a77@x", 11, &l, &e), 0);
	assert_int_equal(addr_list_add_unique(&l, "a0@x", &e), 0);
	assert_false(err_isset(&e));

	assert_int_equal(addr_parse_list("a5@x, new@x", 11, &l, &e), -1);
	assert_int_equal(e.code, ERR_DATAERR);
	assert_string_equal(e.msg, "too many recipients (more than 100000)");
	assert_int_equal(l.n, ADDR_MAX_COUNT);

	err_init(&e);
	assert_int_equal(addr_list_add_unique(&l, "new@x", &e), -1);
	assert_int_equal(e.code, ERR_DATAERR);
	assert_int_equal(l.n, ADDR_MAX_COUNT);
	addr_list_free(&l);

	/* one call with one too many adds nothing */
	err_init(&e);
	many = make_many(0, ADDR_MAX_COUNT + 1, &len);
	assert_int_equal(addr_parse_list(many, len, &l, &e), -1);
	free(many);
	assert_int_equal(e.code, ERR_DATAERR);
	assert_int_equal(l.n, 0);
	addr_list_free(&l);
}

/* ------------------------------------------------------------------ */
/* Collecting many recipients is linear                                */

enum feed { FEED_WORDS, FEED_ONE_LIST, FEED_ADD_UNIQUE };

/* Collect n distinct recipients, then all of them again as duplicates
 * (domain in upper case), the way `feed` says: one addr_parse_list call
 * per word (argv), one call for the whole list (a header), or
 * addr_list_add_unique (aliases).  Returns the probes it took. */
static unsigned long long collect_cost(size_t n, enum feed feed)
{
	unsigned long long before = addr_probe_count();
	struct addr_list l;
	struct err e;
	char word[32];
	size_t i, len;
	int pass, r;
	char *all;

	addr_list_init(&l);
	err_init(&e);
	for (pass = 0; pass < 2; pass++) {
		if (feed == FEED_ONE_LIST) {
			all = make_many(0, n, &len);
			if (pass == 1)
				for (i = 0; i < len; i++)
					if (all[i] == 'x')
						all[i] = 'X';
			assert_int_equal(addr_parse_list(all, len, &l, &e), 0);
			free(all);
			continue;
		}
		for (i = 0; i < n; i++) {
			snprintf(word, sizeof word, "a%zu@%s", i,
				 pass ? "X" : "x");
			if (feed == FEED_WORDS)
				r = addr_parse_list(word, strlen(word), &l, &e);
			else
				r = addr_list_add_unique(&l, word, &e);
			assert_int_equal(r, 0);
		}
	}
	assert_false(err_isset(&e));
	assert_int_equal(l.n, n);
	snprintf(word, sizeof word, "a%zu@x", n - 1);
	assert_string_equal(l.v[n - 1], word);
	addr_list_free(&l);
	return addr_probe_count() - before;
}

/* 50,000 recipients (main.c parses argv one word per call, a header
 * arrives as one list) cost a bounded number of probes each: at most
 * ten, and not more per recipient than for 1,000.  Counted, not timed. */
static void test_collect_linear(void **state)
{
	static const enum feed feeds[] = {
		FEED_WORDS, FEED_ONE_LIST, FEED_ADD_UNIQUE
	};
	unsigned long long small, big;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof feeds / sizeof feeds[0]; k++) {
		small = collect_cost(1000, feeds[k]);
		big = collect_cost(50000, feeds[k]);
		if (small > 10 * 1000 || big > 10 * 50000 ||
		    big / 50000 > 2 * (small / 1000) + 2)
			fail_msg("feed %d: %llu probes for 1000, %llu for "
				 "50000", (int)feeds[k], small, big);
	}
}

/* ------------------------------------------------------------------ */
/* List operations                                                     */

static void test_list_unique(void **state)
{
	static const struct {
		const char *a, *b;
		int same;
	} pairs[] = {
		{ "a@x", "a@x", 1 },
		{ "a@example.COM", "a@Example.com", 1 },
		{ "A@x", "a@x", 0 },
		{ "root", "root", 1 },
		{ "root", "Root", 0 },
		{ "root", "root@x", 0 },
		{ "\"a@b\"@x", "\"a@b\"@X", 1 },
		{ "\"a@b\"@x", "\"a@B\"@x", 0 },
		{ "a@[IPv6:DB8::1]", "a@[ipv6:db8::1]", 1 },
		{ "j\xc3\xb6rg@x", "j\xc3\xb6rg@X", 1 },
		{ "j\xc3\xb6rg@x", "j\xc3\x96rg@x", 0 },
	};
	struct addr_list l;
	struct err e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		addr_list_init(&l);
		err_init(&e);
		assert_int_equal(addr_list_add_unique(&l, pairs[i].a, &e), 0);
		assert_true(addr_list_contains(&l, pairs[i].a));
		assert_int_equal(addr_list_contains(&l, pairs[i].b),
				 pairs[i].same);
		assert_int_equal(addr_list_add_unique(&l, pairs[i].b, &e), 0);
		if (l.n != (pairs[i].same ? 1u : 2u))
			fail_msg("pair %zu: %s / %s", i, pairs[i].a,
				 pairs[i].b);
		/* the first spelling is the one kept */
		assert_string_equal(l.v[0], pairs[i].a);
		addr_list_free(&l);
	}
	addr_list_init(&l);
	assert_false(addr_list_contains(&l, "a@x"));
	addr_list_free(&l);
}

/* ------------------------------------------------------------------ */
/* Single addresses                                                    */

static void test_has_crlfnul(void **state)
{
	static const struct {
		const char *s;
		size_t len;
		int want;
	} cases[] = {
		{ "a@x", 3, 0 },
		{ "", 0, 0 },
		{ "a@x\r", 4, 1 },
		{ "a@x\nRCPT TO:<y>", 15, 1 },
		{ "a\0b", 3, 1 },
		{ "a\0b", 1, 0 },
		{ "a\tb\x7f", 4, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (addr_has_crlfnul(cases[i].s, cases[i].len) != cases[i].want)
			fail_msg("case %zu", i);
}

static void test_check_envelope(void **state)
{
	static const struct {
		const char *a;
		const char *why;        /* NULL: valid */
	} cases[] = {
		{ "", NULL },
		{ "a@x", NULL },
		{ "root", NULL },
		{ "\"a b\"@x", NULL },
		{ "\"a\\\"b\"@x", NULL },
		{ "\"a>b\"@x", NULL },
		{ "j\xc3\xb6rg@x", NULL },
		{ "a@[192.0.2.1]", NULL },
		{ "a b@x", "space outside quotes" },
		{ "Name <a@x>", "space outside quotes" },
		{ "<a@x>", "'<' or '>' in address" },
		{ "a@x>", "'<' or '>' in address" },
		{ "a@x\r\nRSET", "control character" },
		{ "a\t@x", "control character" },
		{ "a\x7f@x", "control character" },
		{ "\"a\x01\"@x", "control character" },
		{ "\"a b@x", "unterminated quoted string" },
		{ "\"a\\", "bad quoted pair" },
		/* UTF-8 (RFC 6531) must be well-formed (RFC 3629) */
		{ "\xf0\x9f\x98\x80@x", NULL },
		{ "a@\xe4\xbe\x8b.jp", NULL },
		{ "\xef\xbf\xbf@x", NULL },
		{ "\xff@x", "invalid UTF-8" },
		{ "a@x\xfe", "invalid UTF-8" },
		{ "j\xc3@x", "invalid UTF-8" },
		{ "a@b\xc3\xbc\xc3", "invalid UTF-8" },
		{ "\xc3\xc3\xb6@x", "invalid UTF-8" },
		{ "\x80@x", "invalid UTF-8" },
		{ "\xc0\xaf@x", "invalid UTF-8" },
		{ "\xe0\x80\xaf@x", "invalid UTF-8" },
		{ "\xed\xa0\x80@x", "invalid UTF-8" },
		{ "\xf4\x90\x80\x80@x", "invalid UTF-8" },
		{ "\xf8\x88\x80\x80\x80@x", "invalid UTF-8" },
		{ "\"\xfe\"@x", "invalid UTF-8" },
	};
	char want[256];
	struct err e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		err_init(&e);
		if (cases[i].why == NULL) {
			if (addr_check_envelope(cases[i].a, &e) != 0)
				fail_msg("case %zu: %s", i, e.msg);
			continue;
		}
		if (addr_check_envelope(cases[i].a, &e) != -1)
			fail_msg("case %zu accepted", i);
		assert_int_equal(e.code, ERR_DATAERR);
		snprintf(want, sizeof want, ": %s", cases[i].why);
		if (strstr(e.msg, want) == NULL)
			fail_msg("case %zu: %s", i, e.msg);
		assert_null(strchr(e.msg, '\r'));
		assert_null(strchr(e.msg, '\n'));
	}
}

/* The error quotes an invalid byte as \xHH, never raw (a C1 control
 * such as 0x9b would reach the terminal); valid UTF-8 stays readable. */
static void test_check_envelope_shows_bytes(void **state)
{
	struct err e;

	(void)state;
	err_init(&e);
	assert_int_equal(addr_check_envelope("j\xc3\xb6rg\x9b[2J\xff@x", &e),
			 -1);
	assert_int_equal(e.code, ERR_DATAERR);
	assert_string_equal(e.msg, "invalid envelope address "
			    "\"j\xc3\xb6rg\\x9b[2J\\xff@x\": invalid UTF-8");
}

/* ------------------------------------------------------------------ */
/* IDNA A-labels for a server without SMTPUTF8                         */

static void test_to_ascii(void **state)
{
	static const struct {
		const char *in;
		const char *want;       /* NULL: refused with ERR_DATAERR */
	} cases[] = {
		{ "", "" },
		{ "a@example.org", "a@example.org" },
		{ "A@Example.ORG", "A@Example.ORG" },
		{ "root", "root" },
		{ "\"a@b c\"@x", "\"a@b c\"@x" },
		{ "a@[192.0.2.1]", "a@[192.0.2.1]" },
		{ "a@b\xc3\xbc" "cher.example", "a@xn--bcher-kva.example" },
		{ "a@B\xc3\x9c" "CHER.Example", "a@xn--bcher-kva.example" },
		{ "info@\xe4\xbe\x8b.jp", "info@xn--fsq.jp" },
		{ "x@stra\xc3\x9f" "e.de", "x@xn--strae-oqa.de" },
		{ "\"a@\xc3\xbc\"@x", NULL },
		{ "j\xc3\xb6rg@example.net", NULL },
		{ "j\xc3\xb6rg@b\xc3\xbc" "cher.example", NULL },
		{ "\xc3\xbc", NULL },
		{ "a@\xe2\x98\x83.example", NULL },
		{ "a@-b\xc3\xbc.example", NULL },
		{ "a@b\xffx.example", NULL },
		{ "a@[\xc3\xbc]", NULL },
	};
	struct err e;
	char *out;
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		err_init(&e);
		out = (char *)"untouched";
		r = addr_to_ascii(cases[i].in, &out, &e);
		if (cases[i].want == NULL) {
			if (r != -1 || e.code != ERR_DATAERR)
				fail_msg("case %zu: %d %s", i, r, e.msg);
			assert_null(out);
			assert_non_null(strstr(e.msg, "SMTPUTF8"));
			continue;
		}
		if (r != 0)
			fail_msg("case %zu: %s", i, e.msg);
		assert_string_equal(out, cases[i].want);
		assert_false(addr_is_8bit(out));
		free(out);
	}
}

/* A domain whose A-label form makes the path longer than RFC 5321
 * allows cannot be sent either: 40 + 1 + 4 * (50 + 2 + 1) + 2 = 255
 * bytes as UTF-8, 279 with "xn--" labels. */
static void test_to_ascii_too_long(void **state)
{
	char a[ADDR_MAX_LEN + 1];
	size_t o;
	struct err e;
	char *out;
	int k;

	(void)state;
	memset(a, 'l', 40);
	o = 40;
	a[o++] = '@';
	for (k = 0; k < 4; k++) {
		memset(a + o, 'a', 50);
		o += 50;
		memcpy(a + o, "\xc3\xbc.", 3);
		o += 3;
	}
	memcpy(a + o, "de", 3);
	assert_int_equal(strlen(a), 255);
	err_init(&e);
	assert_int_equal(addr_check_envelope(a, &e), 0);
	assert_int_equal(addr_to_ascii(a, &out, &e), -1);
	assert_int_equal(e.code, ERR_DATAERR);
	assert_null(out);
}

static void test_check_envelope_length(void **state)
{
	char a[ADDR_MAX_LEN + 2];
	struct err e;

	(void)state;
	memset(a, 'a', ADDR_MAX_LEN);
	a[1] = '@';
	a[ADDR_MAX_LEN] = '\0';
	err_init(&e);
	assert_int_equal(addr_check_envelope(a, &e), 0);
	a[ADDR_MAX_LEN] = 'a';
	a[ADDR_MAX_LEN + 1] = '\0';
	assert_int_equal(addr_check_envelope(a, &e), -1);
	assert_non_null(strstr(e.msg, "longer than 256 bytes"));
}

static void test_is_8bit(void **state)
{
	(void)state;
	assert_false(addr_is_8bit(""));
	assert_false(addr_is_8bit("a@x~\x7f"));
	assert_true(addr_is_8bit("j\xc3\xb6rg@x"));
	assert_true(addr_is_8bit("a@x\x80"));
}

/* ------------------------------------------------------------------ */
/* Display names                                                       */

static int b64_value(char c)
{
	const char *tab =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(tab, c) : NULL;

	return p ? (int)(p - tab) : -1;
}

/* Decode base64 text of length n (a multiple of 4) into out; returns the
 * decoded length. */
static size_t b64_decode(const char *s, size_t n, unsigned char *out)
{
	size_t i, o = 0;
	int v[4], k;

	assert_int_equal(n % 4, 0);
	for (i = 0; i < n; i += 4) {
		for (k = 0; k < 4; k++)
			v[k] = s[i + k] == '=' ? 0 : b64_value(s[i + k]);
		for (k = 0; k < 4; k++)
			assert_true(v[k] >= 0);
		out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (s[i + 2] != '=')
			out[o++] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		if (s[i + 3] != '=')
			out[o++] = (unsigned char)((v[2] & 3) << 6 | v[3]);
	}
	return o;
}

/* 1 if p[0..n) is a whole number of UTF-8 sequences. */
static int utf8_complete(const unsigned char *p, size_t n)
{
	size_t i = 0, want, k;

	while (i < n) {
		if (p[i] < 0x80)
			want = 1;
		else if (p[i] >= 0xc0 && p[i] <= 0xdf)
			want = 2;
		else if (p[i] >= 0xe0 && p[i] <= 0xef)
			want = 3;
		else if (p[i] >= 0xf0 && p[i] <= 0xf7)
			want = 4;
		else
			return 0;
		if (i + want > n)
			return 0;
		for (k = 1; k < want; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
		i += want;
	}
	return 1;
}

/* Decode "=?utf-8?B?...?= =?utf-8?B?...?=" (the charset spelled as msmtp
 * spells it) strictly, checking each word's
 * length and that no word splits a character.  Returns a malloc'd string. */
static char *decode_words(const char *enc)
{
	unsigned char *out = malloc(strlen(enc) + 1);
	size_t o = 0, wlen, n;
	const char *p = enc, *end;

	assert_non_null(out);
	for (;;) {
		assert_memory_equal(p, "=?utf-8?B?", 10);
		end = strstr(p + 10, "?=");
		assert_non_null(end);
		wlen = (size_t)(end + 2 - p);
		assert_true(wlen <= 75);
		n = b64_decode(p + 10, (size_t)(end - p - 10), out + o);
		assert_true(utf8_complete(out + o, n));
		o += n;
		p = end + 2;
		if (*p == '\0')
			break;
		assert_int_equal(*p, ' ');
		p++;
	}
	out[o] = '\0';
	return (char *)out;
}

static void test_display_name_plain_and_quoted(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "John Doe", "John Doe" },
		{ "", "" },
		{ "Who?", "Who?" },
		{ "O'Brien-Smith", "O'Brien-Smith" },
		{ "John Q. Public", "\"John Q. Public\"" },
		{ "Doe, John", "\"Doe, John\"" },
		{ "a\"b\\c", "\"a\\\"b\\\\c\"" },
		{ " lead", "\" lead\"" },
		{ "trail ", "\"trail \"" },
		{ "Joe <j@x>", "\"Joe <j@x>\"" },
		{ "=?UTF-8?B?QQ==?=", "\"=?UTF-8?B?QQ==?=\"" },
		{ "x (y)", "\"x (y)\"" },
	};
	size_t i;
	char *s;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		s = addr_encode_display_name(cases[i].in);
		assert_non_null(s);
		if (strcmp(s, cases[i].want) != 0)
			fail_msg("case %zu: got <%s> want <%s>", i, s,
				 cases[i].want);
		free(s);
	}
}

/* The encoded form of `name` decodes back to it. */
static void check_encoded(const char *name, size_t want_words)
{
	char *enc = addr_encode_display_name(name);
	char *dec;
	size_t words = 1;
	const char *p;

	assert_non_null(enc);
	for (p = enc; *p != '\0'; p++) {
		assert_true((unsigned char)*p > 0x20 || *p == ' ');
		assert_true((unsigned char)*p < 0x7f);
		words += *p == ' ';
	}
	if (want_words != 0 && words != want_words)
		fail_msg("%zu words in <%s>", words, enc);
	dec = decode_words(enc);
	assert_string_equal(dec, name);
	free(dec);
	free(enc);
}

static void test_display_name_encoded(void **state)
{
	char name[512];
	char *enc;
	size_t i, o;

	(void)state;
	enc = addr_encode_display_name("J\xc3\xb6rg");
	assert_string_equal(enc, "=?utf-8?B?SsO2cmc=?=");
	free(enc);

	check_encoded("J\xc3\xb6rg M\xc3\xbcller", 1);
	/* control characters are never left raw in a header */
	check_encoded("a\r\nBcc: evil@x", 1);
	check_encoded("tab\there", 1);

	/* exactly 45 bytes fit in one word, 46 need two */
	memset(name, 'a', 44);
	memcpy(name + 44, "\xc3\xa9", 3);
	check_encoded(name, 2);
	memcpy(name + 43, "\xc3\xa9", 3);
	check_encoded(name, 1);

	/* 2-, 3- and 4-byte characters never split across words */
	for (o = 0, i = 0; i < 50; i++) {
		memcpy(name + o, "\xc3\xa9", 2);
		o += 2;
	}
	name[o] = '\0';
	check_encoded(name, 3);
	for (o = 0, i = 0; i < 40; i++) {
		memcpy(name + o, "\xe6\x97\xa5", 3);
		o += 3;
	}
	name[o] = '\0';
	check_encoded(name, 0);
	for (o = 0, i = 0; i < 30; i++) {
		memcpy(name + o, i % 2 ? "x" : "\xf0\x9f\x98\x80", i % 2 ? 1 : 4);
		o += i % 2 ? 1 : 4;
	}
	name[o] = '\0';
	check_encoded(name, 0);

	/* invalid UTF-8 is carried byte for byte */
	enc = addr_encode_display_name("\xff\xc3");
	assert_non_null(enc);
	assert_string_equal(enc, "=?utf-8?B?/8M=?=");
	free(enc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_length_limit),
		cmocka_unit_test(test_error_text_utf8_cut),
		cmocka_unit_test(test_parse_rolls_back),
		cmocka_unit_test(test_parse_appends_and_len),
		cmocka_unit_test(test_count_limit),
		cmocka_unit_test(test_collect_linear),
		cmocka_unit_test(test_list_unique),
		cmocka_unit_test(test_has_crlfnul),
		cmocka_unit_test(test_check_envelope),
		cmocka_unit_test(test_check_envelope_shows_bytes),
		cmocka_unit_test(test_check_envelope_length),
		cmocka_unit_test(test_to_ascii),
		cmocka_unit_test(test_to_ascii_too_long),
		cmocka_unit_test(test_is_8bit),
		cmocka_unit_test(test_display_name_plain_and_quoted),
		cmocka_unit_test(test_display_name_encoded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
