/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aliases.h"
#include "addr.h"
#include "err.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

/* Write `len` bytes to a fresh temporary file; its name goes to `path`. */
static void write_temp(char *path, size_t pathsz, const char *data,
		       size_t len)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	if (dir == NULL || dir[0] == '\0')
		dir = "/tmp";
	assert_true((size_t)snprintf(path, pathsz, "%s/test_aliases.XXXXXX",
				     dir) < pathsz);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* Fill `l` from "a|b|c" ("" gives an empty list). */
static void list_from(struct addr_list *l, const char *joined)
{
	struct err e;
	char item[ADDR_MAX_LEN + 1];
	const char *p = joined, *bar;
	size_t n;

	addr_list_init(l);
	err_init(&e);
	while (*p != '\0') {
		bar = strchr(p, '|');
		n = bar ? (size_t)(bar - p) : strlen(p);
		assert_true(n < sizeof item);
		memcpy(item, p, n);
		item[n] = '\0';
		assert_int_equal(addr_list_add_unique(l, item, &e), 0);
		p += n;
		if (*p == '|')
			p++;
	}
}

/* Join a list as "a|b|c" for comparison with a table entry. */
static void join_list(const struct addr_list *l, char *out, size_t outsz)
{
	size_t o = 0, i;

	out[0] = '\0';
	for (i = 0; i < l->n; i++) {
		o += (size_t)snprintf(out + o, outsz - o, "%s%s",
				      i ? "|" : "", l->v[i]);
		assert_true(o < outsz);
	}
}

/* Copy `tmpl` with each "FILE" replaced by `path`. */
static void expand_file_word(const char *tmpl, const char *path, char *out,
			     size_t outsz)
{
	const char *p = tmpl, *hit;
	size_t o = 0, n;

	while ((hit = strstr(p, "FILE")) != NULL) {
		n = (size_t)(hit - p);
		assert_true(o + n + strlen(path) < outsz);
		memcpy(out + o, p, n);
		o += n;
		memcpy(out + o, path, strlen(path));
		o += strlen(path);
		p = hit + 4;
	}
	assert_true(o + strlen(p) < outsz);
	memcpy(out + o, p, strlen(p) + 1);
}

/* Run aliases_expand on file text `file` and recipients `in`; check the
 * result list (`want`) or the error (`code`, message with FILE for the
 * path).  On error the recipient list must be unchanged. */
static void check_expand(const char *file, size_t filelen, const char *in,
			 const char *want, int code, const char *msg)
{
	char path[4096], got[8192], expect_msg[ERR_MSG_MAX];
	struct addr_list l;
	struct err e;
	int r;

	write_temp(path, sizeof path, file, filelen);
	list_from(&l, in);
	err_init(&e);
	r = aliases_expand(path, &l, &e);
	unlink(path);
	join_list(&l, got, sizeof got);
	if (code == 0) {
		if (r != 0)
			fail_msg("unexpected error: %s", e.msg);
		assert_int_equal(e.code, 0);
		assert_string_equal(got, want);
	} else {
		assert_int_equal(r, -1);
		assert_int_equal(e.code, code);
		expand_file_word(msg, path, expect_msg, sizeof expect_msg);
		assert_string_equal(e.msg, expect_msg);
		assert_string_equal(got, in);
	}
	addr_list_free(&l);
}

/* ------------------------------------------------------------------ */
/* Table of files and expansions                                       */

struct expand_case {
	const char *what;
	const char *file;
	const char *in;         /* recipients joined by '|' */
	const char *want;       /* expected result joined by '|' */
	int code;               /* 0 = success */
	const char *msg;        /* expected error, FILE = path */
};

static const struct expand_case cases[] = {
	{ "simple", "root: admin@example.org\n", "root",
	  "admin@example.org", 0, NULL },
	{ "multiple targets", "team: a@x.test, b@x.test,c@y.test\n", "team",
	  "a@x.test|b@x.test|c@y.test", 0, NULL },
	{ "display names and comments",
	  "boss: \"Big Boss\" <boss@x.test>, Jane Roe <jane@x.test> (hr)\n",
	  "boss", "boss@x.test|jane@x.test", 0, NULL },
	{ "group syntax on the right", "team: Team: a@x.test, b@x.test;\n",
	  "team", "a@x.test|b@x.test", 0, NULL },
	{ "default catches unknown names",
	  "root: r@x.test\ndefault: catch@x.test\n", "root|bob|ext@y.test",
	  "r@x.test|catch@x.test|ext@y.test", 0, NULL },
	{ "default entry order does not matter",
	  "default: catch@x.test\nroot: r@x.test\n", "bob|root",
	  "catch@x.test|r@x.test", 0, NULL },
	{ "recursive chain", "a: b\nb: c\nc: final@x.test\n", "a",
	  "final@x.test", 0, NULL },
	{ "recursion mixes local and remote",
	  "staff: alice, bob@x.test\nalice: alice@y.test, carol\n"
	  "carol: carol@z.test\n", "staff",
	  "alice@y.test|carol@z.test|bob@x.test", 0, NULL },
	{ "recursive result goes through default",
	  "root: admin\ndefault: ops@x.test\n", "root", "ops@x.test", 0,
	  NULL },
	{ "default to a local name keeps it", "default: postmaster\n", "bob",
	  "postmaster", 0, NULL },
	{ "cycle a b from a", "a: b\nb: a\n", "a", "a", 0, NULL },
	{ "cycle a b from b", "a: b\nb: a\n", "b", "b", 0, NULL },
	{ "cycle with both", "a: b\nb: a\n", "a|b", "a|b", 0, NULL },
	{ "cycle with remote leaves", "a: b, a@x.test\nb: a, b@x.test\n", "a",
	  "a|b@x.test|a@x.test", 0, NULL },
	{ "self reference", "root: root, copy@x.test\n", "root",
	  "root|copy@x.test", 0, NULL },
	{ "comments and blank lines",
	  "# aliases\n\n   \n\t# indented comment\nroot: admin@x.test\n"
	  "# root: wrong@x.test\n", "root", "admin@x.test", 0, NULL },
	{ "whitespace around colon", "  root \t:\tadmin@x.test  \n", "root",
	  "admin@x.test", 0, NULL },
	{ "CRLF line ends", "# c\r\n\r\nroot: admin@x.test\r\n", "root",
	  "admin@x.test", 0, NULL },
	{ "no final newline", "root: admin@x.test", "root", "admin@x.test",
	  0, NULL },
	{ "empty file", "", "root", "root", 0, NULL },
	{ "names are case-sensitive (lower)", "Root: upper@x.test\n", "root",
	  "root", 0, NULL },
	{ "names are case-sensitive (upper)", "Root: upper@x.test\n", "Root",
	  "upper@x.test", 0, NULL },
	{ "unknown name without default stays", "root: a@x.test\n",
	  "bob|root", "bob|a@x.test", 0, NULL },
	{ "remote addresses untouched", "root: a@x.test\n",
	  "root@x.test|x@Y.test|root", "root@x.test|x@Y.test|a@x.test", 0,
	  NULL },
	{ "duplicates removed",
	  "a: x@t.test, y@t.test\nb: y@t.test, z@t.test\n", "a|b|x@t.test",
	  "x@t.test|y@t.test|z@t.test", 0, NULL },
	{ "duplicate domain case removed", "a: X@T.test\n", "x@t.test|X@t.TEST|a",
	  "x@t.test|X@t.TEST", 0, NULL },
	{ "order kept", "mid: m1@t.test, m2@t.test\n",
	  "first@t.test|mid|last@t.test",
	  "first@t.test|m1@t.test|m2@t.test|last@t.test", 0, NULL },
	{ "first definition wins",
	  "root: first@x.test\nroot: second@x.test\n", "root",
	  "first@x.test", 0, NULL },
	{ "colon inside the right side", "list: \"a:b\" <ab@x.test>\n", "list",
	  "ab@x.test", 0, NULL },
	/* malformed files: FILE:LINE errors, whatever the recipients */
	{ "missing colon", "root admin@x.test\n", "root", NULL, ERR_CONFIG,
	  "FILE:1: missing ':' after alias name" },
	{ "empty name", "# c\n\n: a@x.test\n", "root", NULL, ERR_CONFIG,
	  "FILE:3: empty alias name" },
	{ "blank name", "root: a@x.test\n \t : b@x.test\n", "root", NULL,
	  ERR_CONFIG, "FILE:2: empty alias name" },
	{ "error after the used entry", "root: a@x.test\nbad line\n", "root",
	  NULL, ERR_CONFIG, "FILE:2: missing ':' after alias name" },
	{ "empty right side", "root:\n", "root", NULL, ERR_CONFIG,
	  "FILE:1: no address for alias root" },
	{ "right side without addresses", "root: undisclosed:;\n", "root",
	  NULL, ERR_CONFIG, "FILE:1: no address for alias root" },
	{ "bad address", "ok: a@x.test\r\nroot: <a@x.test\n", "root", NULL,
	  ERR_CONFIG, "FILE:2: invalid address" },
};

/* Error messages from the addr module are not ours to fix: compare only
 * the prefix for the "bad address" case. */
static int is_prefix_case(const struct expand_case *c)
{
	return strcmp(c->what, "bad address") == 0;
}

static void check_prefix_case(const struct expand_case *c)
{
	char path[4096], expect[ERR_MSG_MAX];
	struct addr_list l;
	struct err e;

	write_temp(path, sizeof path, c->file, strlen(c->file));
	list_from(&l, c->in);
	err_init(&e);
	assert_int_equal(aliases_expand(path, &l, &e), -1);
	unlink(path);
	assert_int_equal(e.code, c->code);
	expand_file_word(c->msg, path, expect, sizeof expect);
	assert_memory_equal(e.msg, expect, strlen(expect));
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0], c->in);
	addr_list_free(&l);
}

static void test_table(void **state)
{
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct expand_case *c = &cases[i];

		print_message("case: %s\n", c->what);
		if (is_prefix_case(c))
			check_prefix_case(c);
		else
			check_expand(c->file, strlen(c->file), c->in, c->want,
				     c->code, c->msg);
	}
}

/* ------------------------------------------------------------------ */
/* Limits                                                              */

/* A chain n1 -> n2 -> ... -> nN -> end@t.test, as file text. */
static char *chain_file(int links)
{
	char *text = malloc(64 * (size_t)(links + 1));
	size_t o = 0;
	int i;

	assert_non_null(text);
	for (i = 1; i < links; i++)
		o += (size_t)snprintf(text + o, 64, "n%d: n%d\n", i, i + 1);
	o += (size_t)snprintf(text + o, 64, "n%d: end@t.test\n", links);
	return text;
}

static void test_depth_limit(void **state)
{
	char *text;

	text = chain_file(ALIASES_DEPTH_MAX);
	check_expand(text, strlen(text), "n1", "end@t.test", 0, NULL);
	check_expand(text, strlen(text), "n2|other@t.test",
		     "end@t.test|other@t.test", 0, NULL);
	free(text);

	text = chain_file(ALIASES_DEPTH_MAX + 1);
	check_expand(text, strlen(text), "n2", "end@t.test", 0, NULL);
	check_expand(text, strlen(text), "ok@t.test|n1", NULL, ERR_CONFIG,
		     "FILE: alias expansion too deep for n1");
	free(text);
}

/* Each of three names per level points at all three of the next level:
 * a small file whose expansion would take 3^12 steps. */
static void test_fanout_limit(void **state)
{
	char text[4096];
	size_t o = 0;
	int lv, k;

	for (lv = 0; lv < 12; lv++)
		for (k = 0; k < 3; k++)
			o += (size_t)snprintf(text + o, sizeof text - o,
					      "l%d_%d: l%d_0, l%d_1, l%d_2\n",
					      lv, k, lv + 1, lv + 1, lv + 1);
	for (k = 0; k < 3; k++)
		o += (size_t)snprintf(text + o, sizeof text - o,
				      "l12_%d: leaf%d@t.test\n", k, k);
	assert_true(o < sizeof text);
	check_expand(text, o, "l0_0", NULL, ERR_CONFIG,
		     "FILE: alias expansion of l0_0 yields too many addresses");
	/* the same shape but shallow enough is fine */
	check_expand(text, o, "l10_0", "leaf0@t.test|leaf1@t.test|leaf2@t.test",
		     0, NULL);
}

/* A line of exactly `n` bytes "root: a@t.test     ...", plus `end`. */
static char *long_line(size_t n, const char *end, size_t *len)
{
	const char *head = "root: a@t.test";
	size_t hl = strlen(head), el = strlen(end);
	char *text = malloc(n + el + 1);

	assert_non_null(text);
	assert_true(n >= hl);
	memcpy(text, head, hl);
	memset(text + hl, ' ', n - hl);
	memcpy(text + n, end, el + 1);
	*len = n + el;
	return text;
}

static void test_line_length(void **state)
{
	static const char *const ends[] = { "\n", "\r\n", "" };
	char *text;
	size_t len, i;

	for (i = 0; i < sizeof ends / sizeof ends[0]; i++) {
		text = long_line(ALIASES_LINE_MAX, ends[i], &len);
		check_expand(text, len, "root", "a@t.test", 0, NULL);
		free(text);
		text = long_line(ALIASES_LINE_MAX + 1, ends[i], &len);
		check_expand(text, len, "root", NULL, ERR_CONFIG,
			     "FILE:1: line longer than 65536 bytes");
		free(text);
	}
	text = long_line(3 * ALIASES_LINE_MAX, "\n", &len);
	check_expand(text, len, "root", NULL, ERR_CONFIG,
		     "FILE:1: line longer than 65536 bytes");
	free(text);
}

static void test_nul_byte(void **state)
{
	static const char text[] = "ok: a@t.test\nroot: b@t.test\0x\n";

	check_expand(text, sizeof text - 1, "root", NULL, ERR_CONFIG,
		     "FILE:2: NUL byte in line");
}

/* ------------------------------------------------------------------ */
/* When the file is (not) read                                         */

static void test_missing_file_unused(void **state)
{
	struct addr_list l;
	struct err e;

	list_from(&l, "a@x.test|b@y.test");
	err_init(&e);
	assert_int_equal(aliases_expand("/nonexistent/aliases", &l, &e), 0);
	assert_int_equal(e.code, 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0], "a@x.test");
	assert_string_equal(l.v[1], "b@y.test");
	addr_list_free(&l);
}

static void test_missing_file_needed(void **state)
{
	struct addr_list l;
	struct err e;

	list_from(&l, "a@x.test|root");
	err_init(&e);
	assert_int_equal(aliases_expand("/nonexistent/aliases", &l, &e), -1);
	assert_int_equal(e.code, ERR_CONFIG);
	assert_string_equal(e.msg, "cannot read /nonexistent/aliases: "
			    "No such file or directory");
	assert_int_equal(l.n, 2);
	addr_list_free(&l);
}

/* A malformed file is not even opened when no recipient is local. */
static void test_bad_file_unused(void **state)
{
	check_expand("this is not an aliases file\n", 28, "a@x.test|b@x.test",
		     "a@x.test|b@x.test", 0, NULL);
}

static void test_directory(void **state)
{
	struct addr_list l;
	struct err e;
	char path[512], expect[ERR_MSG_MAX];
	const char *dir = getenv("TMPDIR");

	if (dir == NULL || dir[0] == '\0')
		dir = "/tmp";
	assert_true((size_t)snprintf(path, sizeof path,
				     "%s/test_aliases_dir.XXXXXX", dir) < sizeof path);
	assert_non_null(mkdtemp(path));
	list_from(&l, "root");
	err_init(&e);
	assert_int_equal(aliases_expand(path, &l, &e), -1);
	rmdir(path);
	assert_int_equal(e.code, ERR_CONFIG);
	snprintf(expect, sizeof expect, "cannot read %s: Is a directory",
		 path);
	assert_string_equal(e.msg, expect);
	addr_list_free(&l);
}

static void test_no_path(void **state)
{
	struct addr_list l;
	struct err e;

	list_from(&l, "root");
	err_init(&e);
	assert_int_equal(aliases_expand(NULL, &l, &e), 0);
	assert_int_equal(aliases_expand("", &l, &e), 0);
	assert_int_equal(e.code, 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0], "root");
	addr_list_free(&l);
}

/* The empty address (null path) is not a local name: the default entry
 * does not catch it. */
static void test_empty_address(void **state)
{
	char path[4096];
	struct addr_list l;
	struct err e;

	write_temp(path, sizeof path, "default: c@x.test\n", 18);
	err_init(&e);
	addr_list_init(&l);
	assert_int_equal(addr_list_add_unique(&l, "", &e), 0);
	assert_int_equal(addr_list_add_unique(&l, "bob", &e), 0);
	assert_int_equal(aliases_expand(path, &l, &e), 0);
	unlink(path);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0], "");
	assert_string_equal(l.v[1], "c@x.test");
	addr_list_free(&l);
}

static void test_empty_list(void **state)
{
	struct addr_list l;
	struct err e;

	addr_list_init(&l);
	err_init(&e);
	assert_int_equal(aliases_expand("/nonexistent/aliases", &l, &e), 0);
	assert_int_equal(l.n, 0);
	addr_list_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_fanout_limit),
		cmocka_unit_test(test_line_length),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_missing_file_unused),
		cmocka_unit_test(test_missing_file_needed),
		cmocka_unit_test(test_bad_file_unused),
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_no_path),
		cmocka_unit_test(test_empty_address),
		cmocka_unit_test(test_empty_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
