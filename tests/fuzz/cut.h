/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * cut - fuzzer-chosen read sizes: the bytes a peer sends arrive in pieces
 * whose sizes come from the input (up to FUZZ_CUTS_MAX sizes, used in
 * turn), so a parser meets every way its input can be split by the
 * kernel.  Header only: each target that splits input includes it.
 */
#ifndef MSMTP_FUZZ_CUT_H
#define MSMTP_FUZZ_CUT_H

#include <stddef.h>
#include "fuzzkit.h"

#define FUZZ_CUTS_MAX 8

struct fuzz_cuts {
	size_t size[FUZZ_CUTS_MAX];
	size_t n;               /* 0: everything at once */
	size_t next;
};

/* One byte says how many sizes follow (0..FUZZ_CUTS_MAX), one byte each
 * (0 means 1). */
static inline void fuzz_cuts_take(struct fuzz_cuts *c, struct fuzz_in *in)
{
	size_t i;

	c->n = fuzz_byte(in) % (FUZZ_CUTS_MAX + 1);
	c->next = 0;
	for (i = 0; i < c->n; i++) {
		c->size[i] = fuzz_byte(in);
		if (c->size[i] == 0)
			c->size[i] = 1;
	}
}

/* The size of the next piece when `left` bytes remain. */
static inline size_t fuzz_cuts_next(struct fuzz_cuts *c, size_t left)
{
	size_t k;

	if (c->n == 0)
		return left;
	k = c->size[c->next++ % c->n];
	return k < left ? k : left;
}

#endif
