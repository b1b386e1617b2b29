/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz target: queue envelopes (queue_parse_env / queue_format_env in
 * src/queue.c), the files users may edit and root's queue run reads.
 *
 * Input: a byte (whether the stub of an invalid entry is allowed), then
 * the ID.env text of the entry FQENV_ID.  Invariants: a refusal is
 * ERR_DATAERR with one line of text and leaves the entry cleared; an
 * accepted envelope passes every check of the writer (queue_format_env
 * accepts it), and what the writer makes of it parses back to the same
 * entry and is a fixed point (formatting that again gives the same text).
 */
#include "config.h"
#include "fuzzkit.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "queue.h"

#define FQENV_ID "20260102030405-4242-0123abcd"
#define FQENV_MAX (8 * 1024 * 1024)

static int fqenv_same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL)
		|| (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void fqenv_same(const struct queue_entry *a, const struct queue_entry *b)
{
	size_t i;

	FUZZ_CHECK(strcmp(a->id, b->id) == 0);
	FUZZ_CHECK(fqenv_same_str(a->account, b->account));
	FUZZ_CHECK(fqenv_same_str(a->from, b->from));
	FUZZ_CHECK(fqenv_same_str(a->config, b->config));
	FUZZ_CHECK(fqenv_same_str(a->dsn_notify, b->dsn_notify));
	FUZZ_CHECK(fqenv_same_str(a->dsn_return, b->dsn_return));
	FUZZ_CHECK(fqenv_same_str(a->last_error, b->last_error));
	FUZZ_CHECK(a->queued == b->queued && a->next == b->next);
	FUZZ_CHECK(a->attempts == b->attempts && a->size == b->size);
	FUZZ_CHECK(a->maybe_duplicate == b->maybe_duplicate);
	FUZZ_CHECK(a->nrcpts == b->nrcpts);
	for (i = 0; i < a->nrcpts; i++) {
		FUZZ_CHECK(fqenv_same_str(a->rcpts[i].addr, b->rcpts[i].addr));
		FUZZ_CHECK(a->rcpts[i].state == b->rcpts[i].state);
		FUZZ_CHECK(fqenv_same_str(a->rcpts[i].reply, b->rcpts[i].reply));
	}
}

static void fqenv_cleared(const struct queue_entry *ent)
{
	FUZZ_CHECK(ent->account == NULL && ent->from == NULL);
	FUZZ_CHECK(ent->rcpts == NULL && ent->nrcpts == 0);
	FUZZ_CHECK(ent->last_error == NULL && ent->config == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_entry ent, back;
	struct buf t1, t2;
	struct fuzz_in in;
	struct err e;
	int stub;

	fuzz_in_init(&in, data, size);
	stub = fuzz_byte(&in) & 1;
	err_init(&e);
	if (queue_parse_env((const char *)in.p, in.n, FQENV_ID, stub, &ent,
			    &e) < 0) {
		FUZZ_CHECK(e.code == ERR_DATAERR || e.code == ERR_OSERR);
		FUZZ_CHECK(e.msg[0] != '\0' && strpbrk(e.msg, "\r\n") == NULL);
		fqenv_cleared(&ent);
		return 0;
	}
	if (ent.account == NULL) {      /* an invalid-entry stub */
		FUZZ_CHECK(stub);
		queue_entry_clear(&ent);
		return 0;
	}
	buf_init(&t1, FQENV_MAX);
	buf_init(&t2, FQENV_MAX);
	err_init(&e);
	FUZZ_CHECK(queue_format_env(&ent, &t1, &e) == 0);
	err_init(&e);
	FUZZ_CHECK(queue_parse_env(buf_str(&t1), t1.len, FQENV_ID, 0, &back,
				   &e) == 0);
	fqenv_same(&ent, &back);
	err_init(&e);
	FUZZ_CHECK(queue_format_env(&back, &t2, &e) == 0);
	FUZZ_CHECK(t1.len == t2.len && memcmp(t1.data, t2.data, t1.len) == 0);
	queue_entry_clear(&back);
	queue_entry_clear(&ent);
	buf_free(&t1);
	buf_free(&t2);
	return 0;
}
