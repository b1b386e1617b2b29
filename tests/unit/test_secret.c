/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "sasl.h"
#include "secret.h"

/* A mkstemp/mkdtemp template in $TMPDIR (else /tmp): no fixed paths. */
static char *test_secret_template(const char *name)
{
	const char *dir = getenv("TMPDIR");
	char buf[4096];

	assert_true((size_t)snprintf(buf, sizeof buf, "%s/%s.XXXXXX",
				     dir && *dir == '/' ? dir : "/tmp",
				     name) < sizeof buf);
	return strdup(buf);
}

static char *write_tmp(const char *text)
{
	char *path = test_secret_template("msmtp-test-netrc");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

struct netrc_case {
	const char *text, *host, *user;
	int found;
	const char *password, *login;
};

static const struct netrc_case netrc_cases[] = {
	{ "machine a.test login u password p1\n", "a.test", "u", 1, "p1", "u" },
	{ "machine a.test login u password p1\n", "A.TEST", "u", 1, "p1", "u" },
	{ "machine a.test login u password p1\n", "b.test", "u", 0, NULL, NULL },
	{ "machine a.test login v password p1\n", "a.test", "u", 0, NULL, NULL },
	{ "machine a.test\n  login v password p1\nmachine a.test login u\n"
	  "  password p2\n", "a.test", "u", 1, "p2", "u" },
	{ "machine a.test login u password p1\n", "a.test", NULL, 1, "p1", "u" },
	{ "machine x login u password p1\ndefault login u password dflt\n",
	  "a.test", "u", 1, "dflt", "u" },
	{ "macdef init\nmachine a.test login u password evil\n\n"
	  "machine a.test login u password good\n", "a.test", "u", 1, "good", "u" },
	{ "machine a.test login u password \"with space\"\n", "a.test", "u", 1,
	  "with space", "u" },
	{ "machine a.test login u account acct password p3\n", "a.test", "u", 1,
	  "p3", "u" },
	{ "", "a.test", "u", 0, NULL, NULL },
};

static void test_netrc(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof netrc_cases / sizeof netrc_cases[0]; i++) {
		const struct netrc_case *c = &netrc_cases[i];
		char *path = write_tmp(c->text);
		struct secret *s = NULL;
		char *login = NULL;
		struct err e;

		err_init(&e);
		if (secret_netrc(path, c->host, c->user, &s, &login, &e) != c->found)
			fail_msg("netrc case %zu: found mismatch", i);
		if (c->found) {
			assert_string_equal(s->p, c->password);
			assert_int_equal(s->len, strlen(c->password));
			assert_string_equal(login, c->login);
		} else {
			assert_null(s);
		}
		secret_free(s);
		free(login);
		unlink(path);
		free(path);
	}
}

static void test_netrc_missing_file(void **state)
{
	struct secret *s = NULL;
	struct err e;

	(void)state;
	err_init(&e);
	assert_int_equal(secret_netrc("/nonexistent/netrc", "a", "u", &s, NULL, &e), 0);
	assert_false(err_isset(&e));
}

struct eval_case {
	const char *cmd;
	int timeout;
	int ok;
	const char *password;
	const char *msg;
};

static const struct eval_case eval_cases[] = {
	{ "echo hunter2", 5, 1, "hunter2", NULL },
	{ "printf 'first\\r\\nsecond\\n'", 5, 1, "first", NULL },
	{ "printf 'no newline'", 5, 1, "no newline", NULL },
	{ "echo bad >&2; exit 2", 5, 0, NULL, "failed (exit status 2): bad" },
	{ "true", 5, 0, NULL, "printed no password" },
	{ "echo", 5, 0, NULL, "printed no password" },
	{ "sleep 5; echo late", 1, 0, NULL, "did not finish within 1 seconds" },
	{ "cat", 5, 0, NULL, "printed no password" },   /* stdin is /dev/null */
	/* closes its output but keeps running: the wait is bounded too */
	{ "exec >&- 2>&-; sleep 30", 1, 0, NULL,
	  "did not finish within 1 seconds" },
};

static void test_passwordeval(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof eval_cases / sizeof eval_cases[0]; i++) {
		const struct eval_case *c = &eval_cases[i];
		struct secret_req r;
		struct secret *s = NULL;
		struct err e;
		int rc;

		memset(&r, 0, sizeof r);
		r.passwordeval = c->cmd;
		r.timeout = c->timeout;
		r.host = "h";
		r.no_prompt = 1;
		err_init(&e);
		rc = secret_load(&r, &s, &e);
		if (c->ok) {
			if (rc != 0)
				fail_msg("eval case %zu: %s", i, e.msg);
			assert_string_equal(s->p, c->password);
		} else {
			assert_int_equal(rc, -1);
			assert_int_equal(e.code, ERR_CONFIG);
			if (strstr(e.msg, c->msg) == NULL)
				fail_msg("eval case %zu: message '%s'", i, e.msg);
		}
		secret_free(s);
	}
}

/* The command gets default signal handling even though msmtp ignores
 * SIGPIPE: a command that writes into a closed pipe must die of it. */
static void test_cmd_default_signals(void **state)
{
	struct secret_cmd c;
	struct err e;
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);

	(void)state;
	err_init(&e);
	secret_cmd_init(&c, 5, 100);
	assert_int_equal(secret_cmd_run(&c, "kill -PIPE $$; echo survived", &e),
			 0);
	signal(SIGPIPE, old);
	assert_false(c.timed_out);
	assert_true(WIFSIGNALED(c.status));
	assert_int_equal(WTERMSIG(c.status), SIGPIPE);
	assert_false(c.got_output);
	secret_cmd_free(&c);
}

/* first_line: stdout is read up to its first newline only; the rest of
 * an endless output is never waited for. */
static void test_cmd_first_line(void **state)
{
	struct secret_cmd c;
	struct err e;

	(void)state;
	err_init(&e);
	secret_cmd_init(&c, 5, 8);
	c.first_line = 1;
	assert_int_equal(secret_cmd_run(&c, "echo 12345678; yes", &e), 0);
	assert_false(c.timed_out);
	assert_int_equal(c.out_errno, 0);
	assert_string_equal(buf_str(&c.out), "12345678");
	secret_cmd_free(&c);
	secret_cmd_init(&c, 5, 8);
	c.first_line = 1;
	assert_int_equal(secret_cmd_run(&c, "echo 123456789", &e), 0);
	assert_int_equal(c.out_errno, E2BIG);
	assert_string_equal(buf_str(&c.out), "12345678");
	secret_cmd_free(&c);
}

static void test_sources_order(void **state)
{
	char *home = test_secret_template("msmtp-test-home");
	char path[4200];
	struct secret_req r;
	struct secret *s = NULL;
	struct err e;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(home));
	snprintf(path, sizeof path, "%s/.netrc", home);
	f = fopen(path, "w");
	fputs("machine h login u password from-netrc\n", f);
	fclose(f);
	memset(&r, 0, sizeof r);
	r.host = "h";
	r.user = "u";
	r.netrc_home = home;
	r.netrc_system = "/nonexistent";
	r.no_prompt = 1;
	r.password = "from-config";
	err_init(&e);
	assert_int_equal(secret_load(&r, &s, &e), 0);
	assert_string_equal(s->p, "from-config");
	secret_free(s);
	r.password = NULL;
	assert_int_equal(secret_load(&r, &s, &e), 0);
	assert_string_equal(s->p, "from-netrc");
	secret_free(s);
	r.user = "other";
	assert_int_equal(secret_load(&r, &s, &e), -1);
	assert_int_equal(e.code, ERR_CONFIG);
	assert_non_null(strstr(e.msg, "no password for other at h"));
	unlink(path);
	rmdir(home);
	free(home);
}

struct choose_case {
	const char *setting, *offered;
	int cb;
	const char *want;       /* NULL: error */
};

static const struct choose_case choose_cases[] = {
	{ "on", "PLAIN LOGIN", 0, "PLAIN" },
	{ "on", "LOGIN PLAIN SCRAM-SHA-1", 0, "SCRAM-SHA-1" },
	{ "on", "SCRAM-SHA-1 SCRAM-SHA-256", 0, "SCRAM-SHA-256" },
	{ "on", "SCRAM-SHA-256 SCRAM-SHA-256-PLUS", 0, "SCRAM-SHA-256" },
	{ "on", "SCRAM-SHA-256 SCRAM-SHA-256-PLUS", 1, "SCRAM-SHA-256-PLUS" },
	{ "on", "SCRAM-SHA-1-PLUS SCRAM-SHA-256", 1, "SCRAM-SHA-1-PLUS" },
	{ "on", "CRAM-MD5 LOGIN", 0, "LOGIN" },
	{ "on", "GSSAPI XOAUTH2 EXTERNAL", 0, NULL },
	{ "on", "", 0, NULL },
	{ "plain", "PLAIN LOGIN", 0, "PLAIN" },
	{ "xoauth2", "XOAUTH2 PLAIN", 0, "XOAUTH2" },
	{ "OAuthBearer", "OAUTHBEARER", 0, "OAUTHBEARER" },
	{ "login", "PLAIN", 0, NULL },
	{ "scram-sha-256-plus", "SCRAM-SHA-256-PLUS", 0, NULL },
	{ "frobnicate", "FROBNICATE", 0, NULL },
	{ "on", "PLAINX LOGINY", 0, NULL },
	/* an OAuth2 account with auth on */
	{ "oauth", "PLAIN XOAUTH2 OAUTHBEARER", 0, "OAUTHBEARER" },
	{ "oauth", "PLAIN LOGIN XOAUTH2", 0, "XOAUTH2" },
	{ "oauth", "PLAIN LOGIN", 0, NULL },
};

static void test_choose(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof choose_cases / sizeof choose_cases[0]; i++) {
		const struct choose_case *c = &choose_cases[i];
		char mech[32] = "";
		struct err e;
		int rc;

		err_init(&e);
		rc = sasl_choose(c->setting, c->offered, c->cb, mech, sizeof mech, &e);
		if (c->want) {
			if (rc != 0 || strcmp(mech, c->want) != 0)
				fail_msg("choose %zu: got %s (%s), want %s", i, mech,
					 e.msg, c->want);
		} else {
			if (rc == 0)
				fail_msg("choose %zu: got %s, want an error", i, mech);
			assert_int_equal(e.code, ERR_UNAVAILABLE);
		}
	}
}

static void test_plain_payload(void **state)
{
	struct secret *pw = secret_new("pass", 4);
	struct sasl_creds c;
	struct sasl_session *s;
	struct err e;
	char *ir = NULL;

	(void)state;
	memset(&c, 0, sizeof c);
	c.user = "user";
	c.password = pw;
	c.host = "h";
	err_init(&e);
	s = sasl_start("PLAIN", &c, &e);
	assert_non_null(s);
	assert_int_equal(sasl_initial(s, &ir, &e), 0);
	assert_string_equal(ir, "AHVzZXIAcGFzcw==");      /* \0user\0pass */
	sasl_free_response(ir);
	sasl_end(s);
	s = sasl_start("LOGIN", &c, &e);
	assert_int_equal(sasl_initial(s, &ir, &e), 0);
	assert_null(ir);                                /* server speaks first */
	sasl_end(s);
	s = sasl_start("XOAUTH2", &c, &e);
	assert_int_equal(sasl_initial(s, &ir, &e), 0);
	assert_null(ir);
	assert_int_equal(sasl_step(s, "", &ir, &e), 0);
	/* user=user\1auth=Bearer pass\1\1 */
	assert_string_equal(ir, "dXNlcj11c2VyAWF1dGg9QmVhcmVyIHBhc3MBAQ==");
	sasl_free_response(ir);
	assert_int_equal(sasl_step(s, "eyJzdGF0dXMiOiI0MDEifQ==", &ir, &e), 0);
	assert_string_equal(ir, "");
	sasl_free_response(ir);
	sasl_end(s);
	secret_free(pw);
}

/* Holding a secret makes the process non-dumpable with no core files. */
static void test_protect_process(void **state)
{
	struct secret *s;
	struct rlimit rl;

	(void)state;
	s = secret_new("x", 1);
	assert_non_null(s);
	assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
	assert_int_equal(getrlimit(RLIMIT_CORE, &rl), 0);
	assert_int_equal(rl.rlim_cur, 0);
	secret_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_netrc),
		cmocka_unit_test(test_netrc_missing_file),
		cmocka_unit_test(test_passwordeval),
		cmocka_unit_test(test_cmd_default_signals),
		cmocka_unit_test(test_cmd_first_line),
		cmocka_unit_test(test_sources_order),
		cmocka_unit_test(test_choose),
		cmocka_unit_test(test_plain_payload),
		cmocka_unit_test(test_protect_process),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
