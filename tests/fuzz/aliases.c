/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz target: aliases files (src/aliases.c) and the expansion of local
 * recipients through them.
 *
 * Input: the recipients separated by white space (as the command line or
 * -t gives them: no line breaks inside), a NUL byte, then the
 * aliases file (read through /proc/self/fd of a memfd).  Invariants:
 * success, or ERR_CONFIG/ERR_OSERR with one line of text and the
 * recipients untouched; after success every recipient is non-empty,
 * without CR, LF or NUL, at most ADDR_MAX_LEN bytes, none twice, at most
 * ADDR_MAX_COUNT of them; expanding the same recipients again gives the
 * same list.
 */
#include "config.h"
#include "fuzzkit.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "aliases.h"

static void falias_rcpts(const char *s, struct addr_list *l)
{
	struct err e;

	while (*s) {
		size_t n = strcspn(s, " \t\r\n");

		if (n > 0 && n <= ADDR_MAX_LEN) {
			char w[ADDR_MAX_LEN + 1];

			memcpy(w, s, n);
			w[n] = '\0';
			err_init(&e);
			addr_list_add_unique(l, w, &e);
		}
		s += n;
		if (*s != '\0')
			s++;
	}
}

static int falias_same(const struct addr_list *a, const struct addr_list *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addr_list l, before, again;
	struct fuzz_in in;
	struct err e;
	char path[64], *words;
	size_t i, k;
	int fd, r;

	fuzz_in_init(&in, data, size);
	words = fuzz_take_until(&in, '\0', NULL);
	fd = words ? fuzz_memfd(in.p, in.n) : -1;
	if (fd < 0) {
		free(words);
		return 0;
	}
	fuzz_fd_path(fd, path, sizeof path);
	addr_list_init(&l);
	addr_list_init(&before);
	addr_list_init(&again);
	falias_rcpts(words, &l);
	falias_rcpts(words, &before);
	falias_rcpts(words, &again);
	err_init(&e);
	r = aliases_expand(path, &l, &e);
	if (r < 0) {
		FUZZ_CHECK(e.code == ERR_CONFIG || e.code == ERR_OSERR);
		FUZZ_CHECK(e.msg[0] != '\0' && strpbrk(e.msg, "\r\n") == NULL);
		FUZZ_CHECK(falias_same(&l, &before));
	} else {
		FUZZ_CHECK(r == 0 && l.n <= ADDR_MAX_COUNT);
		for (i = 0; i < l.n; i++) {
			size_t n = strlen(l.v[i]);

			FUZZ_CHECK(n > 0 && n <= ADDR_MAX_LEN);
			FUZZ_CHECK(!addr_has_crlfnul(l.v[i], n));
			for (k = 0; k < i && k < 64; k++)
				FUZZ_CHECK(strcmp(l.v[i], l.v[k]) != 0);
		}
		err_init(&e);
		FUZZ_CHECK(aliases_expand(path, &again, &e) == 0);
		FUZZ_CHECK(falias_same(&l, &again));
	}
	addr_list_free(&l);
	addr_list_free(&before);
	addr_list_free(&again);
	close(fd);
	free(words);
	return 0;
}
