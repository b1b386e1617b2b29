/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz target: netrc files (secret_netrc in src/secret.c), read through
 * /proc/self/fd of a memfd.
 *
 * Input: a byte choosing the host and whether a user is given, then the
 * file.  Invariants: 1 (found), 0 or -1 (ERR_CONFIG, one line); when
 * found, the password is a terminated secret of at most SECRET_MAX bytes
 * without NUL inside, and, without a user, the login found is a
 * terminated string; the same lookup twice gives the same answer.
 */
#include "config.h"
#include "fuzzkit.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "secret.h"

static int fnetrc_lookup(const char *path, const char *host,
			 const char *user, struct secret **s, char **login)
{
	struct err e;
	int r;

	err_init(&e);
	r = secret_netrc(path, host, user, s, user ? NULL : login, &e);
	FUZZ_CHECK(r >= -1 && r <= 1);
	if (r < 0) {
		FUZZ_CHECK(e.code == ERR_CONFIG);
		FUZZ_CHECK(strpbrk(e.msg, "\r\n") == NULL);
		FUZZ_CHECK(*s == NULL);
	} else if (r == 0) {
		FUZZ_CHECK(*s == NULL);
	} else {
		FUZZ_CHECK(*s != NULL && (*s)->len <= SECRET_MAX);
		FUZZ_CHECK((*s)->p[(*s)->len] == '\0');
		FUZZ_CHECK(strlen((*s)->p) == (*s)->len);
	}
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const hosts[] = {
		"smtp.example.org", "SMTP.Example.Org", "mail", "x"
	};
	static const char *const users[] = { NULL, "joe", "", "joe@example.org" };
	struct secret *s1 = NULL, *s2 = NULL;
	char *l1 = NULL, *l2 = NULL, path[64];
	struct fuzz_in in;
	const char *host, *user;
	unsigned f;
	int fd, r1, r2;

	fuzz_in_init(&in, data, size);
	f = fuzz_byte(&in);
	host = hosts[f & 3];
	user = users[(f >> 2) & 3];
	fd = fuzz_memfd(in.p, in.n);
	if (fd < 0)
		return 0;
	fuzz_fd_path(fd, path, sizeof path);
	r1 = fnetrc_lookup(path, host, user, &s1, &l1);
	r2 = fnetrc_lookup(path, host, user, &s2, &l2);
	FUZZ_CHECK(r1 == r2);
	if (r1 == 1) {
		FUZZ_CHECK(s1->len == s2->len && memcmp(s1->p, s2->p, s1->len) == 0);
		FUZZ_CHECK((l1 == NULL) == (l2 == NULL));
		FUZZ_CHECK(l1 == NULL || strcmp(l1, l2) == 0);
	}
	secret_free(s1);
	secret_free(s2);
	free(l1);
	free(l2);
	close(fd);
	return 0;
}
