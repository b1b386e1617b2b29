/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz target: the autoconfig document (src/autoconfig.c, expat), what
 * `msmtp --configure` reads from a domain's autoconfig URLs and the ISP
 * database.  No HTTP: the document is the input.
 *
 * Input: the document.  Invariants: an accepted document gives a host
 * that is a plain lower-case host name, a port 1..65535 and a user that
 * is empty or one printable msmtprc word (provider_value_ok), and the
 * printed block is lines of which only the '#' ones are not settings
 * (no value can start a line of its own); a refused one has a documented
 * code and one printable line.  The same bytes give the same answer.
 */
#include "config.h"
#include "fuzzkit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoconfig.h"
#include "provider.h"

static void fac_check_msg(const struct err *e)
{
	size_t i;

	FUZZ_CHECK(e->code == ERR_PROTOCOL || e->code == ERR_UNAVAILABLE
		   || e->code == ERR_OSERR);
	FUZZ_CHECK(e->msg[0] != '\0');
	for (i = 0; e->msg[i]; i++)
		FUZZ_CHECK((unsigned char)e->msg[i] >= 0x20 && e->msg[i] != 0x7f);
}

/* Every line of the block is a comment or one of the settings printed. */
static void fac_check_block(const struct provider_server *s)
{
	static const char *const ok[] = { "account ", "host ", "port ",
		"tls ", "tls_starttls ", "auth ", "user ", "from ", NULL };
	char *text = NULL, *line, *nl;
	size_t len = 0, k;
	FILE *out = open_memstream(&text, &len);
	int known;

	if (out == NULL)
		return;
	FUZZ_CHECK(provider_print(out, s, "user@example.org", "example.org")
		   == 0);
	fclose(out);
	for (line = text; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (line[0] == '#')
			continue;
		known = 0;
		for (k = 0; ok[k] && !known; k++)
			known = strncmp(line, ok[k], strlen(ok[k])) == 0;
		FUZZ_CHECK(known);
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct autoconfig_addr who = {
		"user@example.org", "user", "example.org", "example.org"
	};
	struct provider_server s, again;
	struct err e, e2;
	size_t k;
	int r, r2;

	err_init(&e);
	r = autoconfig_parse((const char *)data, size, &who, &s, &e);
	if (r < 0) {
		fac_check_msg(&e);
	} else {
		FUZZ_CHECK(provider_host_ok(s.host, strlen(s.host)));
		for (k = 0; s.host[k]; k++)
			FUZZ_CHECK(s.host[k] < 'A' || s.host[k] > 'Z');
		FUZZ_CHECK(s.port >= 1 && s.port <= 65535);
		FUZZ_CHECK(s.user[0] == '\0' || provider_value_ok(s.user,
			   strlen(s.user), PROVIDER_USER_MAX));
		fac_check_block(&s);
	}
	err_init(&e2);
	r2 = autoconfig_parse((const char *)data, size, &who, &again, &e2);
	FUZZ_CHECK(r == r2);
	if (r == 0)
		FUZZ_CHECK(memcmp(&s, &again, sizeof s) == 0);
	else if (e.code != ERR_OSERR && e2.code != ERR_OSERR)
		FUZZ_CHECK(strcmp(e.msg, e2.msg) == 0);
	return 0;
}
