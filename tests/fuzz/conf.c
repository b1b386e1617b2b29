/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz target: msmtprc parsing (src/conf.c) from memory: a system file and
 * a user file (the input split at its first NUL byte), then account
 * selection, copying and finishing.
 *
 * No command ever runs: the link wraps secret_cmd_run (used by `eval`)
 * with a stub that "prints" its command line without a leading "echo ",
 * or fails or times out when the command says so, and getaddrinfo (used
 * by %C) with one that finds nothing.
 *
 * Invariants: a failure carries a config, I/O or memory exit code and a
 * one-line message; the accounts' strings hold no CR, LF or NUL (they end
 * up in SMTP commands and headers), their names no control byte at all
 * (queue envelopes refuse them); a copy of an account equals it;
 * selecting "default" and by the first account's from works or fails
 * cleanly.
 */
#include "config.h"
#include "fuzzkit.h"

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "secret.h"

int __wrap_secret_cmd_run(struct secret_cmd *c, const char *cmd,
			  struct err *e);
int __wrap_getaddrinfo(const char *node, const char *service,
		       const struct addrinfo *hints, struct addrinfo **res);

/* `eval CMD` without running anything: see the header comment. */
int __wrap_secret_cmd_run(struct secret_cmd *c, const char *cmd,
			  struct err *e)
{
	size_t n;

	if (strncmp(cmd, "fail", 4) == 0)
		return err_set(e, ERR_OSERR, "cannot start the command");
	if (strncmp(cmd, "sleep", 5) == 0) {
		c->timed_out = 1;
		return 0;
	}
	if (strncmp(cmd, "echo ", 5) == 0)
		cmd += 5;
	n = strcspn(cmd, "\n");
	c->got_output = cmd[0] != '\0';
	if (buf_append(&c->out, cmd, n) < 0)
		c->out_errno = errno;
	return 0;
}

int __wrap_getaddrinfo(const char *node, const char *service,
		       const struct addrinfo *hints, struct addrinfo **res)
{
	(void)node;
	(void)service;
	(void)hints;
	*res = NULL;
	return EAI_NONAME;
}

static void fconf_check_str(const char *s)
{
	if (s != NULL)
		FUZZ_CHECK(strpbrk(s, "\r\n") == NULL);
}

/* The string fields that reach the wire, headers or messages. */
static void fconf_check_account(const struct account *a)
{
	const char *const v[] = {
		a->name, a->host, a->source_ip, a->proxy_host, a->socket,
		a->domain, a->auth, a->user, a->from, a->from_full_name,
		a->dsn_notify, a->dsn_return, a->failover, a->logfile,
		a->tls_fingerprint, a->tls_host_override, a->oauth2_client_id,
		a->oauth2_scope, a->oauth2_tenant, a->oauth2_token_endpoint,
	};
	size_t i;

	for (i = 0; i < sizeof v / sizeof v[0]; i++)
		fconf_check_str(v[i]);
	/* names go into queue envelopes, which refuse control bytes */
	for (i = 0; a->name[i]; i++)
		FUZZ_CHECK((unsigned char)a->name[i] >= 0x20
			   && a->name[i] != 0x7f);
	FUZZ_CHECK(a->port >= 0 && a->port <= 65535);
	FUZZ_CHECK(a->timeout >= 0);
}

static void fconf_check_err(const struct err *e)
{
	FUZZ_CHECK(e->code == ERR_CONFIG || e->code == ERR_IOERR
		   || e->code == ERR_OSERR);
	FUZZ_CHECK(e->msg[0] != '\0' && strpbrk(e->msg, "\r\n") == NULL);
	FUZZ_CHECK(strpbrk(e->hint, "\r\n") == NULL);
}

/* Copies are equal field by field where it matters. */
static void fconf_check_dup(const struct account *a)
{
	struct account *d = conf_account_dup(a);
	struct err e;

	if (d == NULL)
		return;
	FUZZ_CHECK(strcmp(d->name, a->name) == 0);
	FUZZ_CHECK((d->host == NULL) == (a->host == NULL));
	FUZZ_CHECK(d->host == NULL || strcmp(d->host, a->host) == 0);
	FUZZ_CHECK(d->port == a->port && d->tls == a->tls);
	FUZZ_CHECK(memcmp(d->isset, a->isset, sizeof a->isset) == 0);
	err_init(&e);
	if (conf_account_finish(d, &e) < 0)
		fconf_check_err(&e);
	else
		fconf_check_account(d);
	conf_account_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in;
	struct conf c;
	struct err e;
	char *sys, *user;
	size_t sl, ul, i;
	unsigned flags;

	fuzz_in_init(&in, data, size);
	flags = fuzz_byte(&in);
	sys = fuzz_take_until(&in, '\0', &sl);
	user = malloc(in.n + 1);
	if (sys == NULL || user == NULL) {
		free(sys);
		free(user);
		return 0;
	}
	ul = in.n;
	if (ul > 0)
		memcpy(user, in.p, ul);
	user[ul] = '\0';
	conf_init(&c);
	err_init(&e);
	if (conf_load_text(&c, "/etc/msmtprc", sys, sl, 0, &e) < 0
	    || conf_load_text(&c, "/home/u/.msmtprc", user, ul, flags & 1, &e) < 0) {
		fconf_check_err(&e);
	} else {
		struct account *a;

		for (i = 0; i < c.n; i++) {
			fconf_check_account(c.v[i]);
			if (i < 8)
				fconf_check_dup(c.v[i]);
		}
		err_init(&e);
		a = conf_select(&c, (flags & 2) ? "default" : NULL,
				c.n > 0 && c.v[0]->from ? c.v[0]->from : NULL, &e);
		if (a != NULL) {
			fconf_check_account(a);
			conf_account_free(a);
		}
	}
	conf_free(&c);
	free(sys);
	free(user);
	return 0;
}
