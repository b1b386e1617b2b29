/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The connection gate's decisions that need no network: TLS default and
 * port by name, refusals before connecting, and which accounts must wait
 * for the peer's address before credentials may go in clear. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "gate.h"

struct grow {
	const char *name;
	const char *lines[8];           /* msmtprc commands */
	/* expected */
	int port;
	int tls;                        /* CONF_ON / CONF_OFF / CONF_TLS_UNSET */
	int open_rc;                    /* gate_open with want_auth */
	int err_code;
	int needs_loopback;
	int tls_by_peer;
};

static const struct grow rows[] = {
	{ "remote host: STARTTLS on 587", { "host mail.example.org", NULL },
	  587, CONF_ON, 0, 0, 0, 0 },
	{ "remote, implicit TLS: 465", { "host mail.example.org",
	  "tls_starttls off", "tls on", NULL }, 465, CONF_ON, 0, 0, 0, 0 },
	{ "localhost: port 25, the peer decides", { "host localhost", NULL },
	  25, CONF_TLS_UNSET, 0, 0, 0, 1 },
	{ "x.localhost: the peer decides", { "host x.localhost", NULL },
	  25, CONF_TLS_UNSET, 0, 0, 0, 1 },
	{ "127.0.0.2 literal", { "host 127.0.0.2", NULL }, 25, CONF_TLS_UNSET,
	  0, 0, 0, 1 },
	{ "::ffff:127.0.0.1 literal", { "host ::ffff:127.0.0.1", NULL }, 25,
	  CONF_TLS_UNSET, 0, 0, 0, 1 },
	{ "auth in clear to a remote literal: refused", { "host 192.0.2.1",
	  "tls off", "auth plain", "user u", "password p", NULL }, 25, CONF_OFF,
	  -1, ERR_UNAVAILABLE, 0, 0 },
	{ "auth in clear to a name: the peer must be loopback",
	  { "host mail.example.org", "tls off", "auth plain", "user u",
	  "password p", NULL }, 25, CONF_OFF, 0, 0, 1, 0 },
	{ "auth in clear to localhost by name: still the peer",
	  { "host localhost", "tls off", "auth plain", "user u", "password p",
	  NULL }, 25, CONF_OFF, 0, 0, 1, 0 },
	{ "auth in clear to 127.0.0.1: allowed", { "host 127.0.0.1", "tls off",
	  "auth plain", "user u", "password p", NULL }, 25, CONF_OFF, 0, 0, 0,
	  0 },
	{ "auth over a socket: allowed", { "socket /run/x.sock", "tls off",
	  "auth plain", "user u", "password p", NULL }, 25, CONF_OFF, 0, 0, 0,
	  0 },
	{ "auth in clear through a proxy to a name: refused",
	  { "host localhost", "tls off", "proxy_host 127.0.0.1", "auth plain",
	  "user u", "password p", NULL }, 25, CONF_OFF, -1, ERR_UNAVAILABLE,
	  0, 0 },
	{ "through a proxy: STARTTLS on 587", { "host mail.example.org",
	  "proxy_host 127.0.0.1", NULL }, 587, CONF_ON, 0, 0, 0, 0 },
	{ "localhost through a proxy is the proxy's: STARTTLS",
	  { "host localhost", "proxy_host 127.0.0.1", NULL }, 587, CONF_ON, 0,
	  0, 0, 0 },
	{ "x.localhost through a proxy: STARTTLS", { "host x.localhost",
	  "proxy_host 127.0.0.1", NULL }, 587, CONF_ON, 0, 0, 0, 0 },
	{ "a loopback literal through a proxy: the peer decides",
	  { "host 127.0.0.1", "proxy_host 127.0.0.1", NULL }, 25,
	  CONF_TLS_UNSET, 0, 0, 0, 1 },
	{ "auth in clear through a proxy to a loopback literal: the proxy's "
	  "address must be loopback", { "host 127.0.0.1", "tls off",
	  "proxy_host proxy.example.org", "auth plain", "user u", "password p",
	  NULL }, 25, CONF_OFF, 0, 0, 1, 0 },
	{ "auth in clear through a proxy to a remote literal: refused",
	  { "host 192.0.2.1", "tls off", "proxy_host 127.0.0.1", "auth plain",
	  "user u", "password p", NULL }, 25, CONF_OFF, -1, ERR_UNAVAILABLE,
	  0, 0 },
	{ "a socket ignores the proxy: local", { "socket /run/x.sock",
	  "proxy_host 127.0.0.1", NULL }, 25, CONF_TLS_UNSET, 0, 0, 0, 1 },
	{ "a socket ignores the proxy: auth allowed", { "socket /run/x.sock",
	  "tls off", "proxy_host 192.0.2.9", "auth plain", "user u",
	  "password p", NULL }, 25, CONF_OFF, 0, 0, 0, 0 },
	{ "auth without a user", { "host mail.example.org", "auth plain",
	  "password p", NULL }, 587, CONF_ON, -1, ERR_CONFIG, 0, 0 },
};

static void test_rows(void **state)
{
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct grow *r = &rows[i];
		struct account *a = conf_account_new("t");
		struct gate g;
		struct err e;
		int rc;

		err_init(&e);
		assert_non_null(a);
		for (j = 0; r->lines[j]; j++) {
			char cmd[64];
			const char *sp = strchr(r->lines[j], ' ');

			snprintf(cmd, sizeof cmd, "%.*s", (int)(sp - r->lines[j]),
				 r->lines[j]);
			if (conf_account_set(a, cmd, sp + 1, "test", &e) < 0)
				fail_msg("%s: %s", r->name, e.msg);
		}
		if (gate_prepare_account(a, &e) < 0)
			fail_msg("%s: %s", r->name, e.msg);
		if (a->port != r->port || a->tls != r->tls)
			fail_msg("%s: port %d tls %d", r->name, a->port, a->tls);
		rc = gate_open(&g, a, 1, &e);
		if (rc != r->open_rc || (rc < 0 && e.code != r->err_code))
			fail_msg("%s: gate_open %d (%d %s)", r->name, rc, e.code,
				 e.msg);
		if (rc == 0 && (g.auth_needs_loopback != r->needs_loopback
				|| g.tls_by_peer != r->tls_by_peer))
			fail_msg("%s: needs_loopback %d tls_by_peer %d", r->name,
				 g.auth_needs_loopback, g.tls_by_peer);
		gate_close(&g);
		conf_account_free(a);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
