/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "aliases.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"

/* The entry that catches every local name without one of its own. */
#define ALIASES_DEFAULT_NAME "default"

struct alias {
	char *name;                     /* left of ':', exact bytes */
	struct addr_list targets;       /* addr-specs right of ':' */
	unsigned long line;             /* where it was defined */
};

struct alias_table {
	const char *path;               /* for error messages */
	struct alias *v;
	size_t n;
	size_t cap;
};

/* The walk through the table for one aliases_expand() call. */
struct expansion {
	const struct alias_table *table;
	struct addr_list *out;
	const char *top;                        /* recipient being expanded */
	const char *chain[ALIASES_DEPTH_MAX];   /* names expanded on this path */
	size_t depth;
	size_t steps;
};

enum line_status {
	LINE_EOF,
	LINE_OK,
	LINE_TOO_LONG,
	LINE_READ_ERROR
};

/* A local name is a non-empty recipient without '@'.  The empty string is
 * the null path, never an alias name. */
static int is_local(const char *a)
{
	return a[0] != '\0' && strchr(a, '@') == NULL;
}

static int has_local(const struct addr_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (is_local(l->v[i]))
			return 1;
	return 0;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* ------------------------------------------------------------------ */
/* The table                                                           */

static void table_init(struct alias_table *t, const char *path)
{
	t->path = path;
	t->v = NULL;
	t->n = 0;
	t->cap = 0;
}

static void alias_free(struct alias *a)
{
	free(a->name);
	a->name = NULL;
	addr_list_free(&a->targets);
}

static void table_free(struct alias_table *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		alias_free(&t->v[i]);
	free(t->v);
	t->v = NULL;
	t->n = 0;
	t->cap = 0;
}

/* Make room for one more entry. */
static int table_reserve(struct alias_table *t, struct err *e)
{
	struct alias *nv;
	size_t ncap;

	if (t->n < t->cap)
		return 0;
	ncap = t->cap ? t->cap * 2 : 16;
	if (ncap > ((size_t)-1) / sizeof *nv)
		return err_set(e, ERR_OSERR, "out of memory");
	nv = realloc(t->v, ncap * sizeof *nv);
	if (nv == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	t->v = nv;
	t->cap = ncap;
	return 0;
}

/* Order by name, then by line, so the first definition of a name sorts
 * first among its duplicates. */
static int alias_cmp(const void *pa, const void *pb)
{
	const struct alias *a = pa, *b = pb;
	int c = strcmp(a->name, b->name);

	if (c != 0)
		return c;
	return (a->line > b->line) - (a->line < b->line);
}

/* Sort for binary search and keep only the first definition of each name
 * (a later duplicate line is ignored, as a top-down reader would). */
static void table_index(struct alias_table *t)
{
	size_t i, kept = 0;

	if (t->n == 0)
		return;
	qsort(t->v, t->n, sizeof *t->v, alias_cmp);
	for (i = 1; i < t->n; i++) {
		if (strcmp(t->v[i].name, t->v[kept].name) == 0) {
			alias_free(&t->v[i]);
			continue;
		}
		t->v[++kept] = t->v[i];
	}
	t->n = kept + 1;
}

static int alias_key_cmp(const void *key, const void *elem)
{
	const struct alias *a = elem;

	return strcmp(key, a->name);
}

/* Exact (case-sensitive) lookup of one name. */
static const struct alias *table_find(const struct alias_table *t,
				      const char *name)
{
	if (t->n == 0)
		return NULL;
	return bsearch(name, t->v, t->n, sizeof *t->v, alias_key_cmp);
}

/* The entry that applies to `name`: its own, else the default entry. */
static const struct alias *table_lookup(const struct alias_table *t,
					const char *name)
{
	const struct alias *a = table_find(t, name);

	if (a == NULL)
		a = table_find(t, ALIASES_DEFAULT_NAME);
	return a;
}

/* ------------------------------------------------------------------ */
/* Reading the file                                                    */

/* Read one line into line[0..cap) without its LF; a line longer than cap
 * is reported, not truncated silently.  Bytes are counted, so a NUL in the
 * line is visible to the caller. */
static enum line_status read_line(FILE *fp, char *line, size_t cap,
				  size_t *len)
{
	int c;
	size_t n = 0;

	while ((c = getc(fp)) != EOF) {
		if (c == '\n') {
			*len = n;
			return LINE_OK;
		}
		if (n == cap)
			return LINE_TOO_LONG;
		line[n++] = (char)c;
	}
	if (ferror(fp))
		return LINE_READ_ERROR;
	*len = n;
	return n > 0 ? LINE_OK : LINE_EOF;
}

/* Parse the address list right of ':' into `a->targets`; the addr
 * module's message is kept and placed after FILE:LINE. */
static int parse_targets(const struct alias_table *t, unsigned long lineno,
			 const char *rhs, size_t len, struct alias *a,
			 struct err *e)
{
	struct err pe;

	err_init(&pe);
	if (addr_parse_list(rhs, len, &a->targets, &pe) < 0)
		return err_set(e, pe.code == ERR_OSERR ? ERR_OSERR : ERR_CONFIG,
			       "%s:%lu: %s", t->path, lineno, pe.msg);
	if (a->targets.n == 0) {
		char shown[BUF_SHOW_SIZE];

		/* the name is the file's text: quoted, never raw on a
		 * terminal (found by fuzzing) */
		buf_show(shown, sizeof shown, a->name, strlen(a->name));
		return err_set(e, ERR_CONFIG, "%s:%lu: no address for alias %s",
			       t->path, lineno, shown);
	}
	return 0;
}

/* Add the alias defined by a `name: list` line (already known not to be
 * blank or a comment); `p` points at the name, `end` at the line end. */
static int parse_definition(struct alias_table *t, unsigned long lineno,
			    const char *p, const char *end, struct err *e)
{
	const char *colon = memchr(p, ':', (size_t)(end - p));
	const char *name_end;
	struct alias a;

	if (colon == NULL)
		return err_set(e, ERR_CONFIG, "%s:%lu: missing ':' after alias "
			       "name", t->path, lineno);
	name_end = colon;
	while (name_end > p && is_blank(name_end[-1]))
		name_end--;
	if (name_end == p)
		return err_set(e, ERR_CONFIG, "%s:%lu: empty alias name",
			       t->path, lineno);
	if (table_reserve(t, e) < 0)
		return -1;
	a.line = lineno;
	addr_list_init(&a.targets);
	a.name = strndup(p, (size_t)(name_end - p));
	if (a.name == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	if (parse_targets(t, lineno, colon + 1, (size_t)(end - colon - 1), &a,
			  e) < 0) {
		alias_free(&a);
		return -1;
	}
	t->v[t->n++] = a;
	return 0;
}

/* Handle one line of `len` bytes (line end removed): skip blank and
 * comment lines, reject NULs, and define an alias otherwise. */
static int parse_line(struct alias_table *t, unsigned long lineno,
		      const char *line, size_t len, struct err *e)
{
	const char *p = line, *end = line + len;

	if (memchr(line, '\0', len) != NULL)
		return err_set(e, ERR_CONFIG, "%s:%lu: NUL byte in line",
			       t->path, lineno);
	while (p < end && is_blank(*p))
		p++;
	if (p == end || *p == '#')
		return 0;
	return parse_definition(t, lineno, p, end, e);
}

/* Read every line of an open file into the table.  `line` holds
 * ALIASES_LINE_MAX + 1 bytes so that a CR before the LF of a line of the
 * maximum length still fits; CRLF line ends are accepted. */
static int table_read(struct alias_table *t, FILE *fp, char *line,
		      struct err *e)
{
	unsigned long lineno = 0;
	enum line_status st;
	size_t len = 0;

	for (;;) {
		st = read_line(fp, line, ALIASES_LINE_MAX + 1, &len);
		if (st == LINE_EOF)
			return 0;
		lineno++;
		if (st == LINE_READ_ERROR)
			return err_set(e, ERR_CONFIG, "cannot read %s: %s",
				       t->path, strerror(errno));
		if (st == LINE_OK && len > 0 && line[len - 1] == '\r')
			len--;
		if (st == LINE_TOO_LONG || len > ALIASES_LINE_MAX)
			return err_set(e, ERR_CONFIG, "%s:%lu: line longer than "
				       "%d bytes", t->path, lineno,
				       ALIASES_LINE_MAX);
		if (parse_line(t, lineno, line, len, e) < 0)
			return -1;
	}
}

/* Open with close-on-exec (no descriptor leaks into passwordeval or
 * other children) and load the whole file. */
static int table_load(struct alias_table *t, struct err *e)
{
	FILE *fp;
	char *line;
	int fd, r;

	fd = open(t->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, ERR_CONFIG, "cannot read %s: %s", t->path,
			       strerror(errno));
	fp = fdopen(fd, "r");
	if (fp == NULL) {
		r = errno;
		close(fd);
		if (r == ENOMEM)
			return err_set(e, ERR_OSERR, "out of memory");
		return err_set(e, ERR_CONFIG, "cannot read %s: %s", t->path,
			       strerror(r));
	}
	line = malloc(ALIASES_LINE_MAX + 1);
	if (line == NULL) {
		fclose(fp);
		return err_set(e, ERR_OSERR, "out of memory");
	}
	r = table_read(t, fp, line, e);
	free(line);
	fclose(fp);
	if (r == 0)
		table_index(t);
	return r;
}

/* ------------------------------------------------------------------ */
/* Expansion                                                           */

static int on_chain(const struct expansion *x, const char *name)
{
	size_t i;

	for (i = 0; i < x->depth; i++)
		if (strcmp(x->chain[i], name) == 0)
			return 1;
	return 0;
}

static int expand_name(struct expansion *x, const char *name,
		       struct err *e);

/* Expand each target of `a`, which applies to `name`, with `name` on the
 * chain so that a cycle back to it ends there. */
static int expand_alias(struct expansion *x, const struct alias *a,
			const char *name, struct err *e)
{
	size_t i;
	int r = 0;

	if (x->depth == ALIASES_DEPTH_MAX)
		return err_set(e, ERR_CONFIG, "%s: alias expansion too deep "
			       "for %s", x->table->path, x->top);
	if (a->targets.n > ALIASES_STEPS_MAX - x->steps)
		return err_set(e, ERR_CONFIG, "%s: alias expansion of %s "
			       "yields too many addresses", x->table->path,
			       x->top);
	x->steps += a->targets.n;
	x->chain[x->depth++] = name;
	for (i = 0; i < a->targets.n && r == 0; i++)
		r = expand_name(x, a->targets.v[i], e);
	x->depth--;
	return r;
}

/* Append `name` to the result, replaced by its expansion when it is a
 * local name with an entry (or a default) and not already on the chain. */
static int expand_name(struct expansion *x, const char *name, struct err *e)
{
	const struct alias *a;

	if (!is_local(name) || on_chain(x, name))
		return addr_list_add_unique(x->out, name, e);
	a = table_lookup(x->table, name);
	if (a == NULL)
		return addr_list_add_unique(x->out, name, e);
	return expand_alias(x, a, name, e);
}

/* Build the expanded list of `rcpts` into `out`, in the original order. */
static int expand_all(const struct alias_table *t,
		      const struct addr_list *rcpts, struct addr_list *out,
		      struct err *e)
{
	struct expansion x;
	size_t i;

	memset(&x, 0, sizeof x);
	x.table = t;
	x.out = out;
	for (i = 0; i < rcpts->n; i++) {
		x.top = rcpts->v[i];
		if (expand_name(&x, rcpts->v[i], e) < 0)
			return -1;
	}
	return 0;
}

int aliases_expand(const char *path, struct addr_list *rcpts, struct err *e)
{
	struct alias_table t;
	struct addr_list out;
	int r;

	if (path == NULL || path[0] == '\0' || !has_local(rcpts))
		return 0;
	table_init(&t, path);
	addr_list_init(&out);
	r = table_load(&t, e);
	if (r == 0)
		r = expand_all(&t, rcpts, &out, e);
	table_free(&t);
	if (r < 0) {
		addr_list_free(&out);
		return -1;
	}
	addr_list_free(rcpts);
	*rcpts = out;
	return 0;
}
