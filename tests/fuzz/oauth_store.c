/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz target: the OAuth2 token store file (src/oauth_store.c): loading a
 * file with any content, and saving what was loaded.
 *
 * Input: a byte choosing the account name, then the file (written 0600
 * in the scratch directory, which the store uses as oauth2_token_store).
 * Invariants: loading gives 1, 0 or -1; a refusal is ERR_CONFIG or
 * ERR_IOERR with one line of printable text (the name read from the file
 * is quoted) and no tokens; loaded tokens are fit to store (saving them
 * succeeds) and load back unchanged.
 */
#include "config.h"
#include "fuzzkit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "msg.h"
#include "oauth_store.h"

static int fostore_same(const struct secret *a, const struct secret *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL
		&& a->len == b->len && memcmp(a->p, b->p, a->len) == 0);
}

static void fostore_check_err(const struct err *e)
{
	size_t i;

	FUZZ_CHECK(e->code == ERR_CONFIG || e->code == ERR_IOERR);
	for (i = 0; e->msg[i]; i++)
		FUZZ_CHECK((unsigned char)e->msg[i] >= 0x20 && e->msg[i] != 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "fuzz", "work mail", "other" };
	struct oauth_tokens t, back;
	struct oauth_store *st = NULL;
	struct account *a;
	struct fuzz_in in;
	struct err e;
	char path[512];
	int fd, r;

	fuzz_in_init(&in, data, size);
	a = conf_account_new(names[fuzz_byte(&in) % 3]);
	if (a == NULL)
		return 0;
	snprintf(path, sizeof path, "%s/tokens.json", fuzz_scratch_dir());
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(msg_write_all(fd, in.p, in.n) == 0);
	close(fd);
	a->oauth2_token_store = strdup(path);
	err_init(&e);
	memset(&t, 0, sizeof t);
	memset(&back, 0, sizeof back);
	if (a->oauth2_token_store == NULL || oauth_store_open(a, &st, &e) < 0)
		goto out;
	r = oauth_store_load(st, &t, &e);
	if (r < 0) {
		fostore_check_err(&e);
		FUZZ_CHECK(t.access == NULL && t.refresh == NULL);
	} else if (r == 1) {
		err_init(&e);
		FUZZ_CHECK(oauth_store_save(st, &t, &e) == 0);
		FUZZ_CHECK(oauth_store_load(st, &back, &e) == 1);
		FUZZ_CHECK(fostore_same(t.access, back.access));
		FUZZ_CHECK(fostore_same(t.refresh, back.refresh));
		FUZZ_CHECK(t.expires_at == back.expires_at);
	} else {
		FUZZ_CHECK(0);  /* the file exists */
	}
out:
	oauth_tokens_clear(&t);
	oauth_tokens_clear(&back);
	oauth_store_close(st);
	conf_account_free(a);
	unlink(path);
	return 0;
}
