/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz target: the command line (src/cli.c).
 *
 * Input: a byte choosing the program name (msmtp, sendmail, mailq,
 * newaliases), then the arguments separated by NUL bytes.  Invariants: a
 * failure is ERR_USAGE with one line of printable text (argv words are
 * quoted through buf_show); on success the recipients are argv words
 * after the options, and the account settings the parse recorded apply
 * to a fresh account without error, in order (cli checked each one on a
 * scratch account already).
 */
#include "config.h"
#include "fuzzkit.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "conf.h"

#define FCLI_ARGS_MAX 64

static void fcli_check_ok(const struct opts *o, int argc, char **argv)
{
	struct account *a = conf_account_new("fuzz");
	struct err e;
	size_t i;

	FUZZ_CHECK(o->nrecipients <= (size_t)argc);
	for (i = 0; i < o->nrecipients; i++) {
		int k, found = 0;

		for (k = 1; k < argc; k++)
			found |= o->recipients[i] == argv[k];
		FUZZ_CHECK(found);
	}
	if (a == NULL)
		return;
	for (i = 0; i < o->nsettings; i++) {
		err_init(&e);
		FUZZ_CHECK(o->settings[i].cmd != NULL);
		FUZZ_CHECK(conf_account_set(a, o->settings[i].cmd,
					    o->settings[i].arg, "command line",
					    &e) == 0);
	}
	conf_account_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {
		"msmtp", "sendmail", "mailq", "newaliases"
	};
	char *argv[FCLI_ARGS_MAX + 2];
	struct fuzz_in in;
	struct opts o;
	struct err e;
	int argc = 1, i, r;

	fuzz_in_init(&in, data, size);
	argv[0] = strdup(names[fuzz_byte(&in) % 4]);
	while (in.n > 0 && argc <= FCLI_ARGS_MAX)
		argv[argc++] = fuzz_take_until(&in, '\0', NULL);
	argv[argc] = NULL;
	for (i = 0; i < argc; i++)
		if (argv[i] == NULL)
			goto out;
	cli_opts_init(&o);
	err_init(&e);
	r = cli_parse(argc, argv, &o, &e);
	if (r < 0) {
		FUZZ_CHECK(e.code == ERR_USAGE);
		FUZZ_CHECK(e.msg[0] != '\0');
		for (i = 0; e.msg[i]; i++)
			FUZZ_CHECK((unsigned char)e.msg[i] >= 0x20
				   && e.msg[i] != 0x7f);
		/* a hint is one printable line too */
		for (i = 0; e.hint[i]; i++)
			FUZZ_CHECK((unsigned char)e.hint[i] >= 0x20
				   && e.hint[i] != 0x7f);
	} else {
		FUZZ_CHECK(r == 0 && !err_isset(&e) && e.hint[0] == '\0');
		fcli_check_ok(&o, argc, argv);
	}
	cli_opts_free(&o);
out:
	for (i = 0; i < argc; i++)
		free(argv[i]);
	return 0;
}
