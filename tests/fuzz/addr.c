/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz target: RFC 5322 address lists (addr_parse_list in src/addr.c) as
 * they come in To/Cc/Bcc/From fields and -t.
 *
 * Input: the field body.  Invariants: success or ERR_DATAERR/ERR_OSERR
 * with one line of text; a failure leaves the list exactly as it was;
 * every address added is non-empty, at most ADDR_MAX_LEN bytes, without
 * CR, LF or NUL (the envelope check refuses the rest before use,
 * pipeline.c: invalid UTF-8, or '<' in a domain literal, which RFC 5322
 * dtext allows); no address is added
 * twice; parsing the result (joined with ", ") again gives the same
 * list; the A-label form, when there is one, is ASCII and fits the limit.
 */
#include "config.h"
#include "fuzzkit.h"

#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"

#define FADDR_PRE "pre@example.org"

static void faddr_check_one(const char *a)
{
	size_t len = strlen(a);
	struct err e;
	char *ascii = NULL;

	FUZZ_CHECK(len > 0 && len <= ADDR_MAX_LEN);
	FUZZ_CHECK(!addr_has_crlfnul(a, len));
	err_init(&e);
	if (addr_to_ascii(a, &ascii, &e) == 0) {
		FUZZ_CHECK(ascii != NULL && strlen(ascii) <= ADDR_MAX_LEN);
		FUZZ_CHECK(!addr_is_8bit(ascii));
		if (!addr_is_8bit(a))
			FUZZ_CHECK(strcmp(ascii, a) == 0);
	} else {
		FUZZ_CHECK(ascii == NULL);
		FUZZ_CHECK(e.code == ERR_DATAERR || e.code == ERR_OSERR);
	}
	free(ascii);
}

/* Join the list with ", " and parse it again: the same addresses. */
static void faddr_reparse(const struct addr_list *l)
{
	struct addr_list again;
	struct buf b;
	struct err e;
	size_t i;

	buf_init(&b, (size_t)1 << 24);
	for (i = 1; i < l->n; i++) {
		if (i > 1)
			buf_append_str(&b, ", ");
		buf_append_str(&b, l->v[i]);
	}
	addr_list_init(&again);
	err_init(&e);
	FUZZ_CHECK(addr_parse_list(buf_str(&b), b.len, &again, &e) == 0);
	FUZZ_CHECK(again.n == l->n - 1);
	for (i = 0; i < again.n; i++)
		FUZZ_CHECK(strcmp(again.v[i], l->v[i + 1]) == 0);
	addr_list_free(&again);
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addr_list l;
	struct err e;
	size_t i, k;

	addr_list_init(&l);
	err_init(&e);
	if (addr_list_add_unique(&l, FADDR_PRE, &e) < 0)
		return 0;
	if (addr_parse_list((const char *)data, size, &l, &e) < 0) {
		FUZZ_CHECK(e.code == ERR_DATAERR || e.code == ERR_OSERR);
		FUZZ_CHECK(e.msg[0] != '\0' && strpbrk(e.msg, "\r\n") == NULL);
		FUZZ_CHECK(l.n == 1 && strcmp(l.v[0], FADDR_PRE) == 0);
		FUZZ_CHECK(addr_list_contains(&l, FADDR_PRE));
	} else {
		FUZZ_CHECK(!err_isset(&e));
		for (i = 1; i < l.n; i++) {
			faddr_check_one(l.v[i]);
			for (k = 0; k < i; k++)
				FUZZ_CHECK(strcmp(l.v[i], l.v[k]) != 0);
			FUZZ_CHECK(addr_list_contains(&l, l.v[i]));
		}
		if (l.n > 1)
			faddr_reparse(&l);
	}
	addr_list_free(&l);
	return 0;
}
