/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz target: the SMTP reply reader and the EHLO capability parser
 * (src/reply.c) on server bytes.
 *
 * Input: a byte choosing the line limit, the cut sizes (cut.h), then the
 * server's bytes.  Invariants: the replies and the final state (need more
 * or malformed) do not depend on how the bytes were cut; every reply has
 * a code 200..599, 1..REPLY_LINES_MAX lines of at most the line limit, no
 * NUL, and an enhanced code only of the reply's class; reply_oneline is
 * one line of printable bytes within its buffer; the capabilities' name
 * and mechanism list are terminated, the mechanisms upper-case, distinct
 * and separated by single spaces.
 */
#include "config.h"
#include "fuzzkit.h"
#include "cut.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"

#define FREPLY_MAX_REPLIES 4096

struct freply_seen {
	int code;
	char enh[16];
	size_t nlines;
	char *text;
	size_t len;
};

struct freply_run {
	struct freply_seen v[FREPLY_MAX_REPLIES];
	size_t n;
	int status;             /* 0 need more, -1 malformed */
	size_t pending;
};

static void freply_check_caps(const struct reply *r)
{
	struct smtp_caps caps;
	size_t i, n;

	reply_parse_ehlo(r, &caps);
	FUZZ_CHECK(memchr(caps.name, '\0', sizeof caps.name) != NULL);
	FUZZ_CHECK(strchr(caps.name, ' ') == NULL);
	n = strnlen(caps.auth_mechs, sizeof caps.auth_mechs);
	FUZZ_CHECK(n < sizeof caps.auth_mechs);
	FUZZ_CHECK(n == 0 || (caps.auth_mechs[0] != ' '
			      && caps.auth_mechs[n - 1] != ' '));
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)caps.auth_mechs[i];

		FUZZ_CHECK(!islower(c) && (c > 0x20 || c == ' '));
		FUZZ_CHECK(!(c == ' ' && caps.auth_mechs[i + 1] == ' '));
	}
	/* each mechanism once */
	for (i = 0; i < n; ) {
		size_t w = strcspn(caps.auth_mechs + i, " ");
		char word[64];

		FUZZ_CHECK(w < sizeof word);
		memcpy(word, caps.auth_mechs + i, w);
		word[w] = '\0';
		FUZZ_CHECK(strstr(caps.auth_mechs + i + w, word) == NULL
			   || !buf_has_word(caps.auth_mechs + i + w, word));
		i += w + 1;
	}
	FUZZ_CHECK(caps.size || caps.size_max == 0);
}

static void freply_check(const struct reply *r, size_t line_max)
{
	const char *t = buf_str(&r->text);
	char one[80];
	size_t i, nl = 0, len;

	FUZZ_CHECK(r->code >= 200 && r->code <= 599);
	FUZZ_CHECK(r->nlines >= 1 && r->nlines <= REPLY_LINES_MAX);
	FUZZ_CHECK(memchr(t, '\0', r->text.len) == NULL);
	for (i = 0; i < r->text.len; i++)
		nl += t[i] == '\n';
	FUZZ_CHECK(nl + 1 == r->nlines);
	for (i = 0; i < r->nlines; i++) {
		const char *l = reply_line(r, i, &len);

		FUZZ_CHECK(l >= t && l + len <= t + r->text.len);
		FUZZ_CHECK(len + 4 <= line_max || len == 0);
		FUZZ_CHECK(memchr(l, '\n', len) == NULL);
	}
	if (r->enh[0] != '\0') {
		FUZZ_CHECK(r->enh[0] - '0' == r->code / 100);
		FUZZ_CHECK(strspn(r->enh, "0123456789.") == strlen(r->enh));
	}
	reply_oneline(r, one, sizeof one);
	FUZZ_CHECK(strlen(one) < sizeof one);
	for (i = 0; one[i]; i++)
		FUZZ_CHECK((unsigned char)one[i] >= 0x20 && one[i] != 0x7f);
	if (r->code / 100 == 2)
		freply_check_caps(r);
}

/* Record one reply (copying its text) after checking it. */
static void freply_record(struct freply_run *run, const struct reply *r,
			  size_t line_max)
{
	struct freply_seen *s;

	freply_check(r, line_max);
	if (run->n == FREPLY_MAX_REPLIES)
		return;
	s = &run->v[run->n++];
	s->code = r->code;
	memcpy(s->enh, r->enh, sizeof s->enh);
	s->nlines = r->nlines;
	s->len = r->text.len;
	s->text = malloc(s->len + 1);
	if (s->text)
		memcpy(s->text, buf_str(&r->text), s->len + 1);
}

/* Feed the bytes in the pieces `cuts` says, taking replies after each. */
static void freply_run(struct freply_run *run, const char *p, size_t n,
		       size_t line_max, struct fuzz_cuts *cuts)
{
	struct reply_reader rr;
	struct reply r;
	struct err e;
	size_t off = 0;
	int st = 0;

	err_init(&e);
	reply_reader_init(&rr);
	reply_reader_set_line_max(&rr, line_max);
	reply_init(&r);
	run->n = 0;
	while (st == 0 && off < n) {
		size_t k = fuzz_cuts_next(cuts, n - off);

		if (reply_feed(&rr, p + off, k, &e) < 0) {
			st = -1;
			break;
		}
		off += k;
		while ((st = reply_take(&rr, &r, &e)) == 1)
			freply_record(run, &r, line_max);
	}
	FUZZ_CHECK(st <= 0);
	FUZZ_CHECK((st < 0) == err_isset(&e));
	run->status = st;
	run->pending = reply_pending(&rr);
	reply_free(&r);
	reply_reader_free(&rr);
}

static void freply_free(struct freply_run *run)
{
	size_t i;

	for (i = 0; i < run->n; i++)
		free(run->v[i].text);
}

static struct freply_run freply_whole, freply_cut;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in;
	struct fuzz_cuts whole = { { 0 }, 0, 0 }, cuts;
	size_t line_max, i;

	fuzz_in_init(&in, data, size);
	line_max = fuzz_byte(&in) & 1 ? REPLY_AUTH_LINE_MAX : REPLY_LINE_MAX;
	if (fuzz_byte(&in) & 1)
		line_max = REPLY_LINE_MAX + fuzz_range(&in, 600);
	fuzz_cuts_take(&cuts, &in);
	freply_run(&freply_whole, (const char *)in.p, in.n, line_max, &whole);
	freply_run(&freply_cut, (const char *)in.p, in.n, line_max, &cuts);
	/* a cut can only show an error earlier when what follows the last
	 * full line is already too long; otherwise everything agrees */
	FUZZ_CHECK(freply_whole.n == freply_cut.n);
	FUZZ_CHECK(freply_whole.status == freply_cut.status);
	if (freply_whole.status == 0)
		FUZZ_CHECK(freply_whole.pending == freply_cut.pending);
	for (i = 0; i < freply_whole.n; i++) {
		const struct freply_seen *a = &freply_whole.v[i];
		const struct freply_seen *b = &freply_cut.v[i];

		FUZZ_CHECK(a->code == b->code && a->nlines == b->nlines);
		FUZZ_CHECK(strcmp(a->enh, b->enh) == 0);
		FUZZ_CHECK(a->len == b->len);
		FUZZ_CHECK(a->text == NULL || b->text == NULL
			   || memcmp(a->text, b->text, a->len) == 0);
	}
	freply_free(&freply_whole);
	freply_free(&freply_cut);
	return 0;
}
