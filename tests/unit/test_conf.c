/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "err.h"

/* ------------------------------------------------------------------ */
/* helpers */

struct fixture {
	struct conf c;
	struct err e;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	if (f == NULL)
		return -1;
	conf_init(&f->c);
	err_init(&f->e);
	unsetenv("SMTPSERVER");
	unsetenv("EMAIL");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	conf_free(&f->c);
	free(f);
	return 0;
}

static int load(struct fixture *f, const char *text)
{
	return conf_load_text(&f->c, "rc", text, strlen(text), 1, &f->e);
}

/* Load text that must parse; fail the test with the message if not. */
static void load_ok(struct fixture *f, const char *text)
{
	if (load(f, text) != 0)
		fail_msg("unexpected error: %s", f->e.msg);
}

static void load_fails(struct fixture *f, const char *text, int code,
		       const char *msg)
{
	assert_int_equal(load(f, text), -1);
	assert_int_equal(f->e.code, code);
	assert_string_equal(f->e.msg, msg);
}

static struct account *must_find(struct fixture *f, const char *name)
{
	struct account *a = conf_find(&f->c, name);

	if (a == NULL)
		fail_msg("account %s missing", name);
	return a;
}

/* A private temporary directory used as HOME and for config files. */
static char tmpdir[1024];

/* In $TMPDIR (else /tmp): no fixed paths. */
static void make_tmpdir(void)
{
	const char *dir = getenv("TMPDIR");

	if (tmpdir[0] != '\0')
		return;
	assert_true((size_t)snprintf(tmpdir, sizeof tmpdir, "%s/test_conf.XXXXXX",
				     dir && *dir == '/' ? dir : "/tmp")
		    < sizeof tmpdir);
	assert_non_null(mkdtemp(tmpdir));
}

static void tmp_path(char *out, size_t size, const char *name)
{
	make_tmpdir();
	snprintf(out, size, "%s/%s", tmpdir, name);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd;
	size_t len = strlen(text);

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* ------------------------------------------------------------------ */
/* built-in defaults */

static void test_account_new_defaults(void **state)
{
	struct account *a = conf_account_new("x");
	size_t i;

	(void)state;
	assert_non_null(a);
	assert_string_equal(a->name, "x");
	assert_null(a->host);
	assert_int_equal(a->port, 0);
	assert_int_equal(a->timeout, CONF_DEFAULT_TIMEOUT);
	assert_int_equal(a->protocol, CONF_PROTO_SMTP);
	assert_string_equal(a->domain, "localhost");
	assert_int_equal(a->tls, CONF_TLS_UNSET);
	assert_int_equal(a->tls_starttls, CONF_ON);
	assert_int_equal(a->tls_certcheck, CONF_ON);
	assert_int_equal(a->tls_session_cache, CONF_ON);
	assert_int_equal(a->allow_from_override, CONF_ON);
	assert_int_equal(a->set_from_header, CONF_AUTO);
	assert_int_equal(a->set_date_header, CONF_AUTO);
	assert_int_equal(a->set_msgid_header, CONF_AUTO);
	assert_int_equal(a->set_to_header, CONF_TO_OFF);
	assert_int_equal(a->remove_bcc_headers, CONF_ON);
	assert_int_equal(a->partial_delivery, CONF_OFF);
	assert_int_equal(a->logfile_format, CONF_LOGFILE_TEXT);
	assert_int_equal(a->chunking, CONF_ON);
	assert_null(a->auth);
	assert_null(a->from);
	assert_null(a->password);
	assert_null(a->tls_trust_file);
	assert_null(a->syslog);
	for (i = 0; i < sizeof a->isset; i++)
		assert_int_equal(a->isset[i], 0);
	conf_account_free(a);
}

/* ------------------------------------------------------------------ */
/* every command, good and bad values */

enum vkind { V_NONE, V_INT, V_STR };

struct set_case {
	const char *cmd;
	const char *arg;
	int ok;
	enum vkind kind;
	size_t off;
	int ival;
	const char *sval;       /* NULL: expect NULL */
};

#define OFF(f) offsetof(struct account, f)
#define GOOD_I(c, a, f, v) { c, a, 1, V_INT, OFF(f), v, NULL }
#define GOOD_S(c, a, f, v) { c, a, 1, V_STR, OFF(f), 0, v }
#define GOOD(c, a) { c, a, 1, V_NONE, 0, 0, NULL }
#define BAD(c, a) { c, a, 0, V_NONE, 0, 0, NULL }

static const struct set_case set_cases[] = {
	GOOD_S("host", "mail.example.com", host, "mail.example.com"),
	GOOD_S("host", "", host, NULL),
	GOOD_I("port", "587", port, 587),
	GOOD_I("port", "1", port, 1),
	GOOD_I("port", "65535", port, 65535),
	GOOD_I("port", "", port, 0),
	BAD("port", "0"), BAD("port", "65536"), BAD("port", "-1"),
	BAD("port", "25x"), BAD("port", " 25"), BAD("port", "+25"),
	BAD("port", "99999999999999999999"),
	GOOD_S("source_ip", "192.0.2.1", source_ip, "192.0.2.1"),
	GOOD_S("source_ip", "", source_ip, NULL),
	GOOD_S("proxy_host", "127.0.0.1", proxy_host, "127.0.0.1"),
	GOOD_I("proxy_port", "1080", proxy_port, 1080),
	BAD("proxy_port", "70000"), BAD("proxy_port", "x"),
	GOOD_I("ip_family", "any", ip_family, CONF_IP_ANY),
	GOOD_I("ip_family", "ipv4", ip_family, CONF_IP_V4),
	GOOD_I("ip_family", "ipv6", ip_family, CONF_IP_V6),
	GOOD_I("ip_family", "", ip_family, CONF_IP_ANY),
	BAD("ip_family", "IPv4"), BAD("ip_family", "inet"),
	BAD("ip_family", "4"), BAD("ip_family", "ipv4 "),
	GOOD_S("socket", "/run/smtp.sock", socket, "/run/smtp.sock"),
	GOOD_I("timeout", "30", timeout, 30),
	GOOD_I("timeout", "off", timeout, 0),
	GOOD_I("timeout", "", timeout, CONF_DEFAULT_TIMEOUT),
	GOOD_I("connect_timeout", "12", timeout, 12),
	BAD("timeout", "0"), BAD("timeout", "-5"), BAD("timeout", "on"),
	BAD("timeout", "10s"), BAD("timeout", "2147483648"),
	GOOD_I("timeout", "2147483647", timeout, 2147483647),
	GOOD_I("protocol", "smtp", protocol, CONF_PROTO_SMTP),
	GOOD_I("protocol", "lmtp", protocol, CONF_PROTO_LMTP),
	BAD("protocol", "esmtp"), BAD("protocol", ""), BAD("protocol", "SMTP"),
	GOOD_S("domain", "client.example.org", domain, "client.example.org"),
	GOOD_S("domain", "", domain, NULL),
	GOOD_S("auth", "on", auth, "on"),
	GOOD_S("auth", "", auth, "on"),
	GOOD_S("auth", "off", auth, "off"),
	GOOD_S("auth", "PLAIN", auth, "plain"),
	GOOD_S("auth", "scram-sha-256-plus", auth, "scram-sha-256-plus"),
	GOOD_S("auth", "scram-sha-1-plus", auth, "scram-sha-1-plus"),
	GOOD_S("auth", "scram-sha-256", auth, "scram-sha-256"),
	GOOD_S("auth", "scram-sha-1", auth, "scram-sha-1"),
	GOOD_S("auth", "gssapi", auth, "gssapi"),
	GOOD_S("auth", "external", auth, "external"),
	GOOD_S("auth", "OAuthBearer", auth, "oauthbearer"),
	GOOD_S("auth", "cram-md5", auth, "cram-md5"),
	GOOD_S("auth", "digest-md5", auth, "digest-md5"),
	GOOD_S("auth", "login", auth, "login"),
	GOOD_S("auth", "ntlm", auth, "ntlm"),
	GOOD_S("auth", "xoauth2", auth, "xoauth2"),
	BAD("auth", "anonymous"), BAD("auth", "plain login"),
	GOOD_S("user", "joe", user, "joe"),
	GOOD_S("user", "", user, NULL),
	GOOD_S("password", "s3cr#t \"x\"", password, "s3cr#t \"x\""),
	GOOD_S("password", "", password, NULL),
	GOOD_S("passwordeval", "pass show mail", passwordeval,
	    "pass show mail"),
	GOOD_S("ntlmdomain", "CORP", ntlmdomain, "CORP"),
	GOOD_I("tls", "on", tls, CONF_ON),
	GOOD_I("tls", "", tls, CONF_ON),
	GOOD_I("tls", "off", tls, CONF_OFF),
	BAD("tls", "yes"), BAD("tls", "ON"), BAD("tls", "1"),
	GOOD_I("tls_starttls", "off", tls_starttls, CONF_OFF),
	BAD("tls_starttls", "no"),
	GOOD_S("tls_trust_file", "/etc/ssl/ca.pem", tls_trust_file,
	    "/etc/ssl/ca.pem"),
	GOOD_S("tls_trust_file", "system", tls_trust_file, NULL),
	GOOD_S("tls_trust_file", "", tls_trust_file, ""),
	GOOD_S("tls_crl_file", "/etc/ssl/crl.pem", tls_crl_file,
	    "/etc/ssl/crl.pem"),
	GOOD_S("tls_crl_file", "", tls_crl_file, NULL),
	GOOD_S("tls_fingerprint",
	    "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:"
	    "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
	    tls_fingerprint,
	    "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
	    "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"),
	GOOD_S("tls_fingerprint",
	    "de ad be ef 00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff",
	    tls_fingerprint,
	    "DE:AD:BE:EF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"),
	GOOD_S("tls_fingerprint",
	    "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff",
	    tls_fingerprint,
	    "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"),
	GOOD_S("tls_fingerprint", "", tls_fingerprint, NULL),
	BAD("tls_fingerprint", "00:11:22"),
	BAD("tls_fingerprint",
	    "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00"),
	BAD("tls_fingerprint",
	    "00112233445566778899aabbccddeeff"),
	BAD("tls_fingerprint",
	    "0g:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff"),
	BAD("tls_fingerprint",
	    "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:"),
	BAD("tls_fingerprint",
	    "00::11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff"),
	BAD("tls_fingerprint",
	    "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:"
	    "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00"),
	GOOD_S("tls_key_file", "/k.pem", tls_key_file, "/k.pem"),
	GOOD_S("tls_cert_file", "/c.pem", tls_cert_file, "/c.pem"),
	GOOD_S("tls_key_file", "pkcs11:token=x", tls_key_file,
	    "pkcs11:token=x"),
	GOOD_I("tls_certcheck", "off", tls_certcheck, CONF_OFF),
	GOOD_I("tls_certcheck", "", tls_certcheck, CONF_ON),
	BAD("tls_certcheck", "false"),
	GOOD_S("tls_priorities", "NORMAL:-VERS-TLS1.0", tls_priorities,
	    "NORMAL:-VERS-TLS1.0"),
	GOOD_S("tls_host_override", "mx.example.com", tls_host_override,
	    "mx.example.com"),
	GOOD_I("tls_min_dh_prime_bits", "2048", tls_min_dh_prime_bits, 2048),
	GOOD_I("tls_min_dh_prime_bits", "", tls_min_dh_prime_bits, 0),
	BAD("tls_min_dh_prime_bits", "0"), BAD("tls_min_dh_prime_bits", "x"),
	GOOD_I("tls_session_cache", "off", tls_session_cache, CONF_OFF),
	GOOD_I("tls_session_cache", "on", tls_session_cache, CONF_ON),
	BAD("tls_session_cache", "sometimes"),
	GOOD_S("from", "joe@example.com", from, "joe@example.com"),
	GOOD_S("from", "*@example.com", from, "*@example.com"),
	GOOD_S("from", "", from, NULL),
	GOOD_S("from_full_name", "Joe Q. Public", from_full_name,
	    "Joe Q. Public"),
	BAD("from_full_name", "Joe\r\nBcc: x@y"),
	BAD("host", "a\nb"),
	GOOD_I("allow_from_override", "off", allow_from_override, CONF_OFF),
	BAD("allow_from_override", "auto"),
	GOOD_S("dsn_notify", "off", dsn_notify, NULL),
	GOOD_S("dsn_notify", "never", dsn_notify, "never"),
	GOOD_S("dsn_notify", "NEVER", dsn_notify, "never"),
	GOOD_S("dsn_notify", "failure,delay", dsn_notify, "failure,delay"),
	GOOD_S("dsn_notify", "success,FAILURE,delay", dsn_notify,
	    "success,failure,delay"),
	BAD("dsn_notify", "failure, delay"), BAD("dsn_notify", "failure,"),
	BAD("dsn_notify", "never,failure"), BAD("dsn_notify", "always"),
	GOOD_S("dsn_return", "off", dsn_return, NULL),
	GOOD_S("dsn_return", "headers", dsn_return, "headers"),
	GOOD_S("dsn_return", "hdrs", dsn_return, "headers"),
	GOOD_S("dsn_return", "full", dsn_return, "full"),
	BAD("dsn_return", "body"),
	GOOD_I("set_from_header", "auto", set_from_header, CONF_AUTO),
	GOOD_I("set_from_header", "on", set_from_header, CONF_ON),
	GOOD_I("set_from_header", "off", set_from_header, CONF_OFF),
	BAD("set_from_header", "yes"),
	GOOD_I("set_date_header", "auto", set_date_header, CONF_AUTO),
	GOOD_I("set_date_header", "off", set_date_header, CONF_OFF),
	BAD("set_date_header", "on"),
	GOOD_I("set_msgid_header", "off", set_msgid_header, CONF_OFF),
	GOOD_I("set_msgid_header", "auto", set_msgid_header, CONF_AUTO),
	BAD("set_msgid_header", "on"),
	GOOD_I("set_to_header", "on", set_to_header, CONF_TO_ON),
	GOOD_I("set_to_header", "off", set_to_header, CONF_TO_OFF),
	GOOD_I("set_to_header", "undisclosed_recipients", set_to_header,
	    CONF_TO_UNDISCLOSED),
	BAD("set_to_header", "auto"),
	GOOD_I("remove_bcc_headers", "off", remove_bcc_headers, CONF_OFF),
	BAD("remove_bcc_headers", "keep"),
	GOOD_I("partial_delivery", "on", partial_delivery, CONF_ON),
	GOOD_I("partial_delivery", "", partial_delivery, CONF_ON),
	GOOD_I("partial_delivery", "off", partial_delivery, CONF_OFF),
	BAD("partial_delivery", "maybe"),
	GOOD_I("chunking", "off", chunking, CONF_OFF),
	GOOD_I("chunking", "on", chunking, CONF_ON),
	BAD("chunking", "bdat"),
	GOOD_S("logfile", "-", logfile, "-"),
	GOOD_S("logfile", "/var/log/msmtp.log", logfile,
	    "/var/log/msmtp.log"),
	GOOD_S("logfile", "~user/log", logfile, "~user/log"),
	GOOD_S("logfile_time_format", "none", logfile_time_format, "none"),
	GOOD_I("logfile_format", "json", logfile_format, CONF_LOGFILE_JSON),
	GOOD_I("logfile_format", "text", logfile_format, CONF_LOGFILE_TEXT),
	BAD("logfile_format", ""), BAD("logfile_format", "JSON"),
	BAD("logfile_format", "xml"),
	GOOD_S("syslog", "on", syslog, "LOG_USER"),
	GOOD_S("syslog", "", syslog, "LOG_USER"),
	GOOD_S("syslog", "off", syslog, NULL),
	GOOD_S("syslog", "LOG_MAIL", syslog, "LOG_MAIL"),
	GOOD_S("syslog", "LOG_LOCAL0", syslog, "LOG_LOCAL0"),
	GOOD_S("syslog", "LOG_LOCAL7", syslog, "LOG_LOCAL7"),
	BAD("syslog", "LOG_LOCAL8"), BAD("syslog", "log_mail"),
	BAD("syslog", "LOG_DAEMON"),
	GOOD_S("aliases", "/etc/aliases", aliases, "/etc/aliases"),
	/* legacy */
	GOOD_I("undisclosed_recipients", "on", set_to_header,
	    CONF_TO_UNDISCLOSED),
	GOOD_I("undisclosed_recipients", "", set_to_header,
	    CONF_TO_UNDISCLOSED),
	GOOD_I("undisclosed_recipients", "off", set_to_header, CONF_TO_OFF),
	GOOD_I("keepbcc", "on", remove_bcc_headers, CONF_OFF),
	GOOD_I("keepbcc", "off", remove_bcc_headers, CONF_ON),
	BAD("keepbcc", "x"),
	GOOD_I("add_missing_from_header", "on", set_from_header, CONF_AUTO),
	GOOD_I("add_missing_from_header", "off", set_from_header, CONF_OFF),
	GOOD_I("add_missing_date_header", "on", set_date_header, CONF_AUTO),
	GOOD_I("add_missing_date_header", "off", set_date_header, CONF_OFF),
	GOOD_I("tls_nocertcheck", "", tls_certcheck, CONF_OFF),
	GOOD_I("tls_nostarttls", "", tls_starttls, CONF_OFF),
	BAD("tls_nostarttls", "now"),
	GOOD("tls_force_sslv3", "on"), GOOD("tls_force_sslv3", ""),
	BAD("tls_force_sslv3", "sure"),
	GOOD("auto_from", "off"), BAD("auto_from", "x"),
	GOOD("maildomain", "example.com"), BAD("maildomain", "a b"),
	/* structure commands are not account settings */
	BAD("account", "x"), BAD("defaults", ""), BAD("eval", "echo"),
	BAD("hostname", "x"), BAD("", ""),
};

static void test_set_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof set_cases / sizeof set_cases[0]; i++) {
		const struct set_case *t = &set_cases[i];
		struct account *a = conf_account_new("t");
		struct err e;
		int r;

		assert_non_null(a);
		err_init(&e);
		/* start from non-default values so "unset" is visible */
		a->host = strdup("preset");
		a->tls_trust_file = strdup("preset");
		r = conf_account_set(a, t->cmd, t->arg, "rc:1", &e);
		if (t->ok && r != 0)
			fail_msg("case %zu (%s %s): %s", i, t->cmd, t->arg,
			    e.msg);
		if (!t->ok) {
			if (r != -1)
				fail_msg("case %zu (%s %s) accepted", i,
				    t->cmd, t->arg);
			assert_int_equal(e.code, ERR_CONFIG);
			assert_memory_equal(e.msg, "rc:1: ", 6);
		}
		if (t->kind == V_INT) {
			int v;

			memcpy(&v, (char *)a + t->off, sizeof v);
			if (v != t->ival)
				fail_msg("case %zu (%s %s): %d != %d", i,
				    t->cmd, t->arg, v, t->ival);
		} else if (t->kind == V_STR) {
			char *v;

			memcpy(&v, (char *)a + t->off, sizeof v);
			if (t->sval == NULL && v != NULL)
				fail_msg("case %zu (%s %s): '%s' != NULL",
				    i, t->cmd, t->arg, v);
			if (t->sval != NULL &&
			    (v == NULL || strcmp(v, t->sval) != 0))
				fail_msg("case %zu (%s %s): '%s' != '%s'", i,
				    t->cmd, t->arg, v ? v : "(null)",
				    t->sval);
		}
		conf_account_free(a);
	}
}

static void test_set_messages(void **state)
{
	struct account *a = conf_account_new("t");
	struct err e;

	(void)state;
	err_init(&e);
	assert_int_equal(conf_account_set(a, "port", "99999", "f:3", &e), -1);
	assert_string_equal(e.msg, "f:3: invalid argument 99999 for command "
	    "port");
	err_init(&e);
	assert_int_equal(conf_account_set(a, "hots", "x", NULL, &e), -1);
	assert_string_equal(e.msg, "command line: unknown command hots");
	assert_int_equal(e.code, ERR_CONFIG);
	err_init(&e);
	assert_int_equal(conf_account_set(a, "protocol", NULL, "w", &e), -1);
	assert_string_equal(e.msg, "w: command protocol needs an argument");
	/* NULL argument behaves as empty: on/off commands turn on */
	err_init(&e);
	assert_int_equal(conf_account_set(a, "tls", NULL, "w", &e), 0);
	assert_int_equal(a->tls, CONF_ON);
	conf_account_free(a);
}

static void test_set_marks_isset_and_dup(void **state)
{
	struct account *a = conf_account_new("t"), *d;
	struct err e;

	(void)state;
	err_init(&e);
	assert_int_equal(conf_account_set(a, "host", "h", "w", &e), 0);
	assert_int_equal(conf_account_set(a, "password", "pw", "w", &e), 0);
	assert_int_equal(conf_account_set(a, "tls", "on", "w", &e), 0);
	d = conf_account_dup(a);
	assert_non_null(d);
	assert_memory_equal(d->isset, a->isset, sizeof a->isset);
	assert_ptr_not_equal(d->host, a->host);
	assert_string_equal(d->host, "h");
	assert_string_equal(d->password, "pw");
	assert_string_equal(d->name, "t");
	assert_string_equal(d->domain, "localhost");
	assert_int_equal(d->tls, CONF_ON);
	conf_account_free(a);
	/* the copy is independent */
	assert_string_equal(d->host, "h");
	conf_account_free(d);
}

static void test_tilde_expansion(void **state)
{
	static const char *const cmds[] = {
		"tls_trust_file", "tls_crl_file", "tls_key_file",
		"tls_cert_file", "logfile", "aliases",
	};
	struct account *a = conf_account_new("t");
	struct err e;
	size_t i;

	(void)state;
	setenv("HOME", "/home/tester", 1);
	err_init(&e);
	for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		assert_int_equal(conf_account_set(a, cmds[i], "~/f", "w", &e),
		    0);
	assert_string_equal(a->tls_trust_file, "/home/tester/f");
	assert_string_equal(a->tls_crl_file, "/home/tester/f");
	assert_string_equal(a->tls_key_file, "/home/tester/f");
	assert_string_equal(a->tls_cert_file, "/home/tester/f");
	assert_string_equal(a->logfile, "/home/tester/f");
	assert_string_equal(a->aliases, "/home/tester/f");
	assert_int_equal(conf_account_set(a, "aliases", "~", "w", &e), 0);
	assert_string_equal(a->aliases, "/home/tester");
	assert_int_equal(conf_account_set(a, "aliases", "a/~/b", "w", &e), 0);
	assert_string_equal(a->aliases, "a/~/b");
	/* not for sockets and commands */
	assert_int_equal(conf_account_set(a, "socket", "~/s", "w", &e), 0);
	assert_string_equal(a->socket, "~/s");
	assert_int_equal(conf_account_set(a, "passwordeval", "~/bin/pw", "w",
	    &e), 0);
	assert_string_equal(a->passwordeval, "~/bin/pw");
	conf_account_free(a);
}

/* ------------------------------------------------------------------ */
/* syntax */

static void test_syntax_comments_quotes(void **state)
{
	struct fixture *f = *state;
	struct account *a;

	load_ok(f,
	    "# a comment\n"
	    "\n"
	    "   \t\n"
	    "  # indented comment\n"
	    "account one\n"
	    "host 127.0.0.1 # not a comment\n"
	    "\tuser   \t joe smith  \t\n"
	    "password \"pass \\\"word\\\" \\\\ \\n # x\"\n"
	    "from \"\"\n"
	    "from_full_name \"  Joe  \"\n"
	    "domain x\"y\"\n");
	a = must_find(f, "one");
	assert_string_equal(a->host, "127.0.0.1 # not a comment");
	assert_string_equal(a->user, "joe smith");
	assert_string_equal(a->password, "pass \"word\" \\ \\n # x");
	assert_null(a->from);
	assert_string_equal(a->from_full_name, "  Joe  ");
	assert_string_equal(a->domain, "x\"y\"");
}

static void test_syntax_quote_errors(void **state)
{
	struct fixture *f = *state;

	load_fails(f, "account a\nhost \"abc\n", ERR_CONFIG,
	    "rc:2: missing closing quote");
}

static void test_syntax_text_after_quote(void **state)
{
	struct fixture *f = *state;

	load_fails(f, "account a\nhost \"abc\" # x\n", ERR_CONFIG,
	    "rc:2: text after closing quote");
}

static void test_syntax_escaped_final_quote(void **state)
{
	struct fixture *f = *state;

	load_fails(f, "account a\nhost \"abc\\\"\n", ERR_CONFIG,
	    "rc:2: missing closing quote");
}

static void test_syntax_crlf_and_no_final_newline(void **state)
{
	struct fixture *f = *state;
	struct account *a;

	load_ok(f, "account a\r\nhost h\r\nport 26\r\n\r\nuser u");
	a = must_find(f, "a");
	assert_string_equal(a->host, "h");
	assert_int_equal(a->port, 26);
	assert_string_equal(a->user, "u");
	assert_int_equal(a->line, 1);
}

static void test_syntax_nul_byte(void **state)
{
	struct fixture *f = *state;
	static const char text[] = "account a\nhost h\0x\n";

	assert_int_equal(conf_load_text(&f->c, "rc", text, sizeof text - 1, 0,
	    &f->e), -1);
	assert_int_equal(f->e.code, ERR_CONFIG);
	assert_string_equal(f->e.msg, "rc:2: line contains a NUL byte");
	assert_int_equal(f->c.n, 0);
}

static void test_syntax_unknown_command(void **state)
{
	struct fixture *f = *state;

	load_fails(f, "account a\nhost h\nhots x\n", ERR_CONFIG,
	    "rc:3: unknown command hots");
	/* nothing of a failed file is kept */
	assert_int_equal(f->c.n, 0);
}

static void test_syntax_bad_value_names_line(void **state)
{
	struct fixture *f = *state;

	load_fails(f, "account a\n\n\ntls maybe\n", ERR_CONFIG,
	    "rc:4: invalid argument maybe for command tls");
}

/* A bad value is quoted, not echoed: a CR or an escape sequence inside
 * it must not reach the terminal (found by fuzzing, tests/fuzz). */
static void test_syntax_bad_value_is_quoted(void **state)
{
	struct fixture *f = *state;

	load_fails(f, "account a\ntls on\rx\x1b[2J\n", ERR_CONFIG,
	    "rc:2: invalid argument on\\x0dx\\x1b[2J for command tls");
}

/* Build "password " + n token bytes, optionally with a trailing CR. */
static char *long_line(size_t total, const char *ending)
{
	size_t plen = strlen("password ");
	char *s = malloc(total + strlen(ending) + 32);

	assert_non_null(s);
	memcpy(s, "password ", plen);
	memset(s + plen, 'T', total - plen);
	memcpy(s + total, ending, strlen(ending) + 1);
	return s;
}

static void test_syntax_long_lines(void **state)
{
	struct fixture *f = *state;
	struct account *a;
	char *text;

	/* a 16 KiB OAuth token fits */
	text = long_line(16 * 1024 + 9, "\n");
	load_ok(f, text);
	a = must_find(f, "default");
	assert_int_equal(strlen(a->password), 16 * 1024);
	free(text);
	conf_free(&f->c);
	/* exactly CONF_LINE_MAX characters (CR not counted) */
	text = long_line(CONF_LINE_MAX, "\r\n");
	load_ok(f, text);
	free(text);
	conf_free(&f->c);
	/* one more is refused */
	text = long_line(CONF_LINE_MAX + 1, "\n");
	assert_int_equal(load(f, text), -1);
	assert_int_equal(f->e.code, ERR_CONFIG);
	assert_string_equal(f->e.msg, "rc:1: line longer than 65536 "
	    "characters");
	free(text);
}

/* ------------------------------------------------------------------ */
/* structure: defaults, accounts, inheritance */

static void test_defaults_apply_to_later_accounts(void **state)
{
	struct fixture *f = *state;

	load_ok(f,
	    "account early\n"
	    "host e\n"
	    "defaults\n"
	    "tls on\n"
	    "port 587\n"
	    "account a\n"
	    "host ha\n"
	    "defaults\n"
	    "port 2525\n"
	    "account b\n"
	    "host hb\n"
	    "tls off\n");
	assert_int_equal(must_find(f, "early")->tls, CONF_TLS_UNSET);
	assert_int_equal(must_find(f, "early")->port, 0);
	assert_int_equal(must_find(f, "a")->tls, CONF_ON);
	assert_int_equal(must_find(f, "a")->port, 587);
	assert_int_equal(must_find(f, "b")->tls, CONF_OFF);
	assert_int_equal(must_find(f, "b")->port, 2525);
	assert_null(conf_find(&f->c, "defaults"));
	assert_int_equal(f->c.n, 3);
	assert_string_equal(f->c.v[0]->name, "early");
	assert_string_equal(f->c.v[2]->name, "b");
	assert_string_equal(f->c.v[2]->file, "rc");
	assert_int_equal(f->c.v[2]->line, 10);
}

/* logfile_format is inherited from `defaults` like every setting. */
static void test_logfile_format_inherited(void **state)
{
	struct fixture *f = *state;

	load_ok(f,
	    "account plain\n"
	    "host h\n"
	    "defaults\n"
	    "logfile_format json\n"
	    "account a\n"
	    "host ha\n"
	    "account b : a\n"
	    "logfile_format text\n");
	assert_int_equal(must_find(f, "plain")->logfile_format,
	    CONF_LOGFILE_TEXT);
	assert_int_equal(must_find(f, "a")->logfile_format, CONF_LOGFILE_JSON);
	assert_int_equal(must_find(f, "b")->logfile_format, CONF_LOGFILE_TEXT);
}

static void test_defaults_with_argument(void **state)
{
	struct fixture *f = *state;

	load_fails(f, "defaults x\n", ERR_CONFIG,
	    "rc:1: command defaults does not take an argument");
}

static void test_inheritance_order(void **state)
{
	struct fixture *f = *state;
	struct account *c;

	load_ok(f,
	    "defaults\n"
	    "domain d.example\n"
	    "timeout 10\n"
	    "account p1\n"
	    "host h1\n"
	    "port 1001\n"
	    "user u1\n"
	    "account p2\n"
	    "port 1002\n"
	    "tls on\n"
	    "defaults\n"
	    "timeout 20\n"
	    "logfile /l\n"
	    "account c : p1 , p2\n"
	    "user uc\n"
	    "account d:p2,p1\n"
	    "account g : d\n");
	c = must_find(f, "c");
	assert_string_equal(c->host, "h1");
	assert_int_equal(c->port, 1002);        /* p2 after p1 wins */
	assert_string_equal(c->user, "uc");     /* own line wins */
	assert_int_equal(c->tls, CONF_ON);
	assert_string_equal(c->logfile, "/l");  /* current defaults */
	/* p1 and p2 took timeout 10 from their defaults: that counts as set */
	assert_int_equal(c->timeout, 10);
	assert_string_equal(c->domain, "d.example");
	c = must_find(f, "d");
	assert_int_equal(c->port, 1001);        /* p1 after p2 wins */
	assert_string_equal(c->user, "u1");
	/* what d inherited counts as set in d, so its child g gets it */
	assert_string_equal(must_find(f, "g")->user, "u1");
	assert_string_equal(must_find(f, "g")->host, "h1");
	assert_int_equal(must_find(f, "g")->port, 1001);
	/* parents are unchanged */
	assert_string_equal(must_find(f, "p1")->user, "u1");
	assert_int_equal(must_find(f, "p2")->tls, CONF_ON);
	assert_null(must_find(f, "p2")->host);
}

static void test_inheritance_of_unset_value(void **state)
{
	struct fixture *f = *state;

	load_ok(f,
	    "account p\n"
	    "host h\n"
	    "user\n"
	    "defaults\n"
	    "user fromdefaults\n"
	    "account c : p\n");
	/* p explicitly unset user: the child inherits the unset value */
	assert_null(must_find(f, "c")->user);
	assert_string_equal(must_find(f, "c")->host, "h");
}

static void test_implicit_default_account(void **state)
{
	struct fixture *f = *state;
	struct account *a;

	load_ok(f,
	    "# msmtp 1.2 style\n"
	    "host old.example\n"
	    "from me@example\n"
	    "account other\n"
	    "host o\n");
	a = must_find(f, "default");
	assert_string_equal(a->host, "old.example");
	assert_string_equal(a->from, "me@example");
	assert_int_equal(a->line, 2);
	assert_string_equal(must_find(f, "other")->host, "o");
}

static void test_implicit_default_then_explicit(void **state)
{
	struct fixture *f = *state;

	load_fails(f, "host h\naccount default\n", ERR_CONFIG,
	    "rc:2: account default was already defined");
}

static void test_account_default_alias(void **state)
{
	struct fixture *f = *state;
	struct account *d;

	load_ok(f,
	    "account work\n"
	    "host smtp.work\n"
	    "from me@work\n"
	    "account default : work\n");
	d = must_find(f, "default");
	assert_string_equal(d->host, "smtp.work");
	assert_string_equal(d->from, "me@work");
}

static void test_account_errors(void **state)
{
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
		{ "account a\naccount a\n",
		    "rc:2: account a was already defined" },
		{ "account a : b\n",
		    "rc:1: account b not (yet) defined" },
		{ "account b : a\naccount a\n",
		    "rc:1: account a not (yet) defined" },
		{ "account a\naccount c : a, zz\n",
		    "rc:2: account zz not (yet) defined" },
		{ "account\n",
		    "rc:1: command account needs an argument" },
		{ "account a,b\n",
		    "rc:1: invalid account name 'a,b' (must be non-empty, "
		    "without ':', ',' or control characters)" },
		{ ":\n", "rc:1: unknown command :" },
		{ "account : a\n",
		    "rc:1: invalid account name '' (must be non-empty, "
		    "without ':', ',' or control characters)" },
		/* control bytes go nowhere, and the name is quoted (found
		 * by fuzzing, tests/fuzz) */
		{ "account a\rb\n",
		    "rc:1: invalid account name 'a\\x0db' (must be non-empty, "
		    "without ':', ',' or control characters)" },
		{ "account a\naccount b : a\x1b[2J\n",
		    "rc:2: invalid account name 'a\\x1b[2J' in list of parents" },
		{ "account a\naccount b : a,\n",
		    "rc:2: invalid account name '' in list of parents" },
		{ "account a\naccount b : \n",
		    "rc:2: invalid account name '' in list of parents" },
		{ "account a\naccount b : a : c\n",
		    "rc:2: invalid account name 'a : c' in list of parents" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct conf c;
		struct err e;

		conf_init(&c);
		err_init(&e);
		if (conf_load_text(&c, "rc", cases[i].text,
		    strlen(cases[i].text), 0, &e) != -1)
			fail_msg("case %zu accepted", i);
		assert_int_equal(e.code, ERR_CONFIG);
		assert_string_equal(e.msg, cases[i].msg);
		assert_int_equal(c.n, 0);
		conf_free(&c);
	}
}

static void test_parent_from_earlier_file(void **state)
{
	struct fixture *f = *state;
	static const char sys[] = "account base\nhost sys.example\nport 26\n";
	static const char usr[] = "account mine : base\nuser me\n"
	    "account base\nhost user.example\n";

	assert_int_equal(conf_load_text(&f->c, "/etc/msmtprc", sys,
	    strlen(sys), 0, &f->e), 0);
	assert_int_equal(conf_load_text(&f->c, "~/.msmtprc", usr, strlen(usr),
	    1, &f->e), 0);
	assert_string_equal(must_find(f, "mine")->host, "sys.example");
	assert_int_equal(must_find(f, "mine")->port, 26);
	/* the user file's "base" replaced the system one */
	assert_string_equal(must_find(f, "base")->host, "user.example");
	assert_string_equal(must_find(f, "base")->file, "~/.msmtprc");
	assert_int_equal(f->c.n, 2);
}

/* ------------------------------------------------------------------ */
/* eval */

static void test_eval_success(void **state)
{
	struct fixture *f = *state;
	struct account *a;

	load_ok(f,
	    "account a\n"
	    "eval echo host evaluated.example\n"
	    "eval printf 'user  crlf\\r\\nsecond line\\n'\n"
	    "eval echo '# just a comment'\n"
	    "eval echo 'eval echo port 2626'\n"
	    "eval \"echo from \\\"q@x\\\"\"\n");
	a = must_find(f, "a");
	assert_string_equal(a->host, "evaluated.example");
	assert_string_equal(a->user, "crlf");
	assert_int_equal(a->port, 2626);
	assert_string_equal(a->from, "q@x");
}

static void test_eval_account_line(void **state)
{
	struct fixture *f = *state;

	load_ok(f, "eval echo account fromeval\nhost h\n");
	assert_string_equal(must_find(f, "fromeval")->host, "h");
	assert_null(conf_find(&f->c, "default"));
}

static void test_eval_errors(void **state)
{
	static const struct {
		const char *text;
		int code;
		const char *msg;
	} cases[] = {
		{ "account a\neval true\n", ERR_IOERR,
		    "rc:2: cannot read output of 'true'" },
		{ "account a\neval exit 3\n", ERR_IOERR,
		    "rc:2: cannot read output of 'exit 3'" },
		/* stdin is /dev/null: cat must not eat our input */
		{ "account a\neval cat\n", ERR_IOERR,
		    "rc:2: cannot read output of 'cat'" },
		{ "account a\neval\n", ERR_CONFIG,
		    "rc:2: command eval needs an argument" },
		{ "account a\neval echo hots x\n", ERR_CONFIG,
		    "rc:2: unknown command hots" },
		{ "account a\neval echo port 0\n", ERR_CONFIG,
		    "rc:2: invalid argument 0 for command port" },
		{ "eval head -c 70000 /dev/zero | tr '\\0' x\n", ERR_CONFIG,
		    "rc:1: output of 'head -c 70000 /dev/zero | tr '\\0' x' is "
		    "longer than 65536 characters" },
		{ "eval printf 'host a\\0b'\n", ERR_CONFIG,
		    "rc:1: line contains a NUL byte" },
		{ "eval echo eval echo eval echo eval echo eval echo host x\n",
		    ERR_CONFIG, "rc:1: eval nested too deeply" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct conf c;
		struct err e;

		conf_init(&c);
		err_init(&e);
		if (conf_load_text(&c, "rc", cases[i].text,
		    strlen(cases[i].text), 0, &e) != -1)
			fail_msg("case %zu accepted", i);
		assert_int_equal(e.code, cases[i].code);
		assert_string_equal(e.msg, cases[i].msg);
		conf_free(&c);
	}
}

/* The pid a test command wrote into path. */
static pid_t read_pid_file(const char *path)
{
	char text[32];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	n = read(fd, text, sizeof text - 1);
	close(fd);
	assert_true(n > 0);
	text[n] = '\0';
	return (pid_t)strtol(text, NULL, 10);
}

/* A hung eval is bounded by the timeout in effect on its line (here set
 * earlier in the section); on expiry the command's whole process group
 * dies: the background sleep it started as well.  We are made the
 * subreaper so the orphaned sleep becomes our child and its fate can be
 * read with waitpid. */
static void test_eval_timeout_kills_group(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX], text[PATH_MAX + 200], want[PATH_MAX + 200];
	pid_t bg;
	int st;

	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	tmp_path(path, sizeof path, "eval-bg-pid");
	unlink(path);
	snprintf(text, sizeof text, "account a\ntimeout 1\n"
	    "eval sleep 30 & echo $! > %s; wait\n", path);
	assert_int_equal(load(f, text), -1);
	assert_int_equal(f->e.code, ERR_CONFIG);
	snprintf(want, sizeof want, "rc:3: eval command 'sleep 30 & echo $! "
	    "> %s; wait' timed out after 1 seconds", path);
	/* the command is shown cut to BUF_SHOW_MAX bytes and "..." when
	 * $TMPDIR makes it longer */
	if (strlen("sleep 30 & echo $! > ; wait") + strlen(path) <= BUF_SHOW_MAX)
		assert_string_equal(f->e.msg, want);
	assert_memory_equal(f->e.msg, want, 40);
	assert_non_null(strstr(f->e.msg, "' timed out after 1 seconds"));
	bg = read_pid_file(path);
	assert_int_equal(waitpid(bg, &st, 0), bg);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0), 0);
}

/* The timeout in effect may come from the defaults section; an eval
 * before it (or with `timeout off`) gets 60 s, not forever. */
static void test_eval_timeout_from_defaults(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "defaults\ntimeout 1\naccount b\n"
	    "eval sleep 30\n"), -1);
	assert_int_equal(f->e.code, ERR_CONFIG);
	assert_string_equal(f->e.msg, "rc:4: eval command 'sleep 30' timed out "
	    "after 1 seconds");
	/* a quick command under a huge timeout still works (no overflow) */
	conf_free(&f->c);
	err_init(&f->e);
	load_ok(f, "account c\ntimeout 2147483647\neval echo host q\n");
	assert_string_equal(must_find(f, "c")->host, "q");
}

/* The message arrives on stdin: an eval command must not be able to read
 * it, so its stdin is /dev/null even when ours holds data. */
static void test_eval_does_not_read_stdin(void **state)
{
	struct fixture *f = *state;
	int fds[2], saved;
	int r;

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], "host stolen\n", 12), 12);
	close(fds[1]);
	saved = dup(0);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fds[0], 0), 0);
	close(fds[0]);
	r = load(f, "account a\neval cat\n");
	assert_int_equal(dup2(saved, 0), 0);
	close(saved);
	assert_int_equal(r, -1);
	assert_int_equal(f->e.code, ERR_IOERR);
	assert_string_equal(f->e.msg, "rc:2: cannot read output of 'cat'");
}

static void test_eval_infinite_output(void **state)
{
	struct fixture *f = *state;

	/* a first line followed by endless output: we stop reading and the
	 * child dies of SIGPIPE and is reaped */
	load_ok(f, "account a\neval (echo host y; yes)\n");
	assert_string_equal(must_find(f, "a")->host, "y");
}

/* ------------------------------------------------------------------ */
/* files and permissions */

/* A file of `size` bytes: comment lines, then one account at the end
 * (so a file cut short would lose it). */
static void write_sized_config(const char *path, size_t size)
{
	static const char tail[] = "account last\nhost h\n";
	char line[1024];
	size_t left = size - (sizeof tail - 1);
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	memset(line, '#', sizeof line);
	line[sizeof line - 1] = '\n';
	while (left > 0) {
		size_t n = left < sizeof line ? left : sizeof line;

		if (n < sizeof line)
			line[n - 1] = '\n';
		assert_int_equal(write(fd, line, n), (ssize_t)n);
		left -= n;
	}
	assert_int_equal(write(fd, tail, sizeof tail - 1),
			 (ssize_t)(sizeof tail - 1));
	close(fd);
}

/* The whole file is read into one buffer sized from fstat; the 16 MiB
 * bound holds exactly: that size loads, one byte more is refused. */
static void test_file_size_bound(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX];

	tmp_path(path, sizeof path, "sized");
	write_sized_config(path, 16 * 1024 * 1024);
	assert_int_equal(conf_load_file(&f->c, path, 0, 1, &f->e), 0);
	assert_string_equal(must_find(f, "last")->host, "h");
	write_sized_config(path, 16 * 1024 * 1024 + 1);
	assert_int_equal(conf_load_file(&f->c, path, 0, 1, &f->e), -1);
	assert_int_equal(f->e.code, ERR_CONFIG);
	assert_non_null(strstr(f->e.msg, "file is larger than 16777216 bytes"));
	unlink(path);
}

/* A file without a size (a FIFO: -C <(...) from a shell) is read in
 * growing steps to its end. */
static void test_file_fifo(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX];
	pid_t pid;
	int status, i;

	tmp_path(path, sizeof path, "fifo");
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		FILE *w = fopen(path, "w");

		if (w == NULL)
			_exit(1);
		for (i = 0; i < 2000; i++)
			fprintf(w, "account a%d\nhost h%d\n", i, i);
		_exit(fclose(w) == 0 ? 0 : 1);
	}
	assert_int_equal(conf_load_file(&f->c, path, 0, 1, &f->e), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(f->c.n, 2000);
	assert_string_equal(must_find(f, "a1999")->host, "h1999");
	unlink(path);
}

static void test_file_missing(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX];

	tmp_path(path, sizeof path, "does-not-exist");
	assert_int_equal(conf_load_file(&f->c, path, 1, 0, &f->e), 0);
	assert_int_equal(f->c.n, 0);
	assert_null(f->c.user_file);
	assert_int_equal(conf_load_file(&f->c, path, 1, 1, &f->e), -1);
	assert_int_equal(f->e.code, ERR_IOERR);
	assert_non_null(strstr(f->e.msg, "cannot open "));
	assert_non_null(strstr(f->e.msg, ": No such file or directory"));
	assert_true(strncmp(f->e.msg, "cannot open ", 12) == 0);
	assert_memory_equal(f->e.msg + 12, tmpdir, strlen(tmpdir));
}

static void test_file_loaded_and_recorded(void **state)
{
	struct fixture *f = *state;
	char upath[PATH_MAX], spath[PATH_MAX];

	tmp_path(upath, sizeof upath, "user-rc");
	tmp_path(spath, sizeof spath, "sys-rc");
	write_file(spath, "account s\nhost sys\npassword x\n", 0644);
	write_file(upath, "account u\nhost usr\n", 0644);
	assert_int_equal(conf_load_file(&f->c, spath, 0, 0, &f->e), 0);
	assert_int_equal(conf_load_file(&f->c, upath, 1, 1, &f->e), 0);
	assert_string_equal(f->c.system_file, spath);
	assert_string_equal(f->c.user_file, upath);
	assert_string_equal(must_find(f, "s")->file, spath);
	assert_string_equal(must_find(f, "u")->host, "usr");
}

/* conf keeps the `defaults` section of the last file loaded (the queue
 * needs its queue_lifetime for entries whose account is gone). */
static void test_defaults_kept(void **state)
{
	struct fixture *f = *state;
	char upath[PATH_MAX], spath[PATH_MAX];

	assert_null(f->c.defaults);
	tmp_path(spath, sizeof spath, "sys-defaults-rc");
	tmp_path(upath, sizeof upath, "user-defaults-rc");
	write_file(spath, "defaults\nqueue_lifetime 1d\ntimeout 7\n"
	    "account s\nhost sys\n", 0644);
	write_file(upath, "defaults\nqueue_lifetime 2h\n"
	    "account u\nhost usr\n"
	    "defaults\nqueue_backoff 3m\n", 0600);
	assert_int_equal(conf_load_file(&f->c, spath, 0, 0, &f->e), 0);
	assert_non_null(f->c.defaults);
	assert_int_equal(f->c.defaults->queue_lifetime, 86400);
	assert_int_equal(f->c.defaults->timeout, 7);
	assert_string_equal(f->c.defaults->file, spath);
	/* the user file's defaults win, as they stood at its end */
	assert_int_equal(conf_load_file(&f->c, upath, 1, 1, &f->e), 0);
	assert_non_null(f->c.defaults);
	assert_int_equal(f->c.defaults->queue_lifetime, 7200);
	assert_int_equal(f->c.defaults->queue_backoff, 180);
	assert_int_equal(f->c.defaults->timeout, CONF_DEFAULT_TIMEOUT);
	assert_string_equal(f->c.defaults->file, upath);
	/* a file that fails to load leaves them alone */
	assert_int_equal(load(f, "defaults\nqueue_lifetime 5s\nbogus x\n"),
	    -1);
	assert_int_equal(f->c.defaults->queue_lifetime, 7200);
}

/* A file without a defaults section still has defaults: the built-in
 * ones; a missing optional file is no file loaded. */
static void test_defaults_builtin(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX];

	tmp_path(path, sizeof path, "no-such-defaults-rc");
	assert_int_equal(conf_load_file(&f->c, path, 1, 0, &f->e), 0);
	assert_null(f->c.defaults);
	load_ok(f, "account a\nhost h\nqueue_lifetime 9s\n");
	assert_non_null(f->c.defaults);
	assert_int_equal(f->c.defaults->queue_lifetime,
	    CONF_DEFAULT_QUEUE_LIFETIME);
	conf_free(&f->c);
	assert_null(f->c.defaults);
}

static void check_perm_case(const char *text, mode_t mode, uid_t owner,
			    int is_user, int want_ok, const char *msg_tail)
{
	struct conf c;
	struct err e;
	char path[PATH_MAX];
	int r;

	tmp_path(path, sizeof path, "perm-rc");
	write_file(path, text, mode);
	if (owner != geteuid())
		assert_int_equal(chown(path, owner, (gid_t)-1), 0);
	conf_init(&c);
	err_init(&e);
	r = conf_load_file(&c, path, is_user, 1, &e);
	if (want_ok) {
		if (r != 0)
			fail_msg("refused: %s", e.msg);
		assert_true(c.n > 0);
	} else {
		char want[PATH_MAX + 200];

		assert_int_equal(r, -1);
		assert_int_equal(e.code, ERR_CONFIG);
		snprintf(want, sizeof want, "%s: %s", path, msg_tail);
		assert_string_equal(e.msg, want);
		assert_int_equal(c.n, 0);
		assert_null(c.user_file);
	}
	conf_free(&c);
	unlink(path);
}

static void test_file_permissions(void **state)
{
	static const char pw[] = "account a\nhost h\npassword secret\n";
	static const char nopw[] = "account a\nhost h\npasswordeval echo x\n";
	static const char evalpw[] = "account a\neval echo password x\n";
	static const char mode_msg[] = "contains secrets and therefore must "
	    "have no more than user read/write permissions";
	static const char owner_msg[] = "contains secrets and therefore must "
	    "be owned by you";
	uid_t me = geteuid();

	(void)state;
	check_perm_case(pw, 0600, me, 1, 1, NULL);
	check_perm_case(pw, 0400, me, 1, 1, NULL);
	check_perm_case(pw, 0640, me, 1, 0, mode_msg);
	check_perm_case(pw, 0604, me, 1, 0, mode_msg);
	check_perm_case(pw, 0700, me, 1, 0, mode_msg);
	check_perm_case(pw, 0644, me, 0, 1, NULL);   /* system file */
	check_perm_case(nopw, 0644, me, 1, 1, NULL);
	check_perm_case(evalpw, 0644, me, 1, 1, NULL);
	/* an empty password command still counts: it is literally there */
	check_perm_case("account a\nhost h\npassword\n", 0644, me, 1, 0,
	    mode_msg);
	if (me == 0) {
		/* as root we can hand the file to someone else */
		check_perm_case(pw, 0600, 4321, 1, 0, owner_msg);
		check_perm_case(nopw, 0600, 4321, 1, 1, NULL);
	}
}

static void test_file_syntax_error_names_file(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX], want[PATH_MAX + 64];

	tmp_path(path, sizeof path, "bad-rc");
	write_file(path, "account a\nport x\n", 0600);
	assert_int_equal(conf_load_file(&f->c, path, 1, 0, &f->e), -1);
	snprintf(want, sizeof want, "%s:2: invalid argument x for command "
	    "port", path);
	assert_string_equal(f->e.msg, want);
	assert_int_equal(f->e.code, ERR_CONFIG);
	unlink(path);
}

static void test_file_directory(void **state)
{
	struct fixture *f = *state;

	make_tmpdir();
	assert_int_equal(conf_load_file(&f->c, tmpdir, 1, 0, &f->e), -1);
	assert_int_equal(f->e.code, ERR_IOERR);
}

/* The checks of test_file_unreadable_skipped, run by a user who cannot
 * read path: NULL when they hold, else what went wrong. */
static const char *check_unreadable(const char *path)
{
	static char want[PATH_MAX + 100];
	struct conf c;
	struct err e;
	const char *why = NULL;

	conf_init(&c);
	err_init(&e);
	snprintf(want, sizeof want, "ignoring user configuration file %s: "
	    "Permission denied", path);
	if (conf_load_file(&c, path, 1, 0, &e) != 0 || err_isset(&e))
		why = "an optional unreadable file was an error";
	else if (c.nwarnings != 1 || strcmp(c.warnings[0], want) != 0)
		why = "no (or a wrong) warning for the skipped file";
	else if (c.user_file != NULL || c.defaults != NULL || c.n != 0)
		why = "the skipped file counts as loaded";
	conf_free(&c);
	if (why == NULL && (c.nwarnings != 0 || c.warnings != NULL))
		why = "conf_free left warnings";
	conf_init(&c);
	snprintf(want, sizeof want, "cannot open %s: Permission denied", path);
	if (why == NULL && (conf_load_file(&c, path, 1, 1, &e) != -1
	    || e.code != ERR_IOERR || strcmp(e.msg, want) != 0))
		why = "a required (-C) unreadable file was not an error";
	conf_free(&c);
	return why;
}

/* An optional file we may not read (root's ~/.msmtprc seen by nobody
 * under cron or sudo) is skipped with a warning for main() to print; a
 * required one (-C) stays an error.  Root can read anything, so as root
 * the checks run in a child that became nobody. */
static void test_file_unreadable_skipped(void **state)
{
	char path[PATH_MAX];
	const char *why;
	pid_t pid;
	int st;

	(void)state;
	tmp_path(path, sizeof path, "unreadable-rc");
	write_file(path, "account a\nhost h\n", geteuid() == 0 ? 0600 : 0);
	if (geteuid() != 0) {
		why = check_unreadable(path);
		if (why != NULL)
			fail_msg("%s", why);
		return;
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(2);
		why = check_unreadable(path);
		if (why != NULL)
			fprintf(stderr, "as nobody: %s\n", why);
		_exit(why != NULL);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_paths(void **state)
{
	char home[PATH_MAX], rc[PATH_MAX + 16], want[PATH_MAX + 64];
	char *p;

	(void)state;
	tmp_path(home, sizeof home, "home");
	mkdir(home, 0700);
	setenv("HOME", home, 1);
	unsetenv("XDG_CONFIG_HOME");
	snprintf(rc, sizeof rc, "%s/.msmtprc", home);
	unlink(rc);

	p = conf_user_path();
	snprintf(want, sizeof want, "%s/.config/msmtp/config", home);
	assert_string_equal(p, want);
	free(p);

	setenv("XDG_CONFIG_HOME", "/xdg", 1);
	p = conf_user_path();
	assert_string_equal(p, "/xdg/msmtp/config");
	free(p);

	setenv("XDG_CONFIG_HOME", "relative", 1);
	p = conf_user_path();
	assert_string_equal(p, want);
	free(p);

	write_file(rc, "", 0600);
	p = conf_user_path();
	assert_string_equal(p, rc);
	free(p);
	unlink(rc);
	unsetenv("XDG_CONFIG_HOME");

	p = conf_system_path();
	assert_non_null(p);
	assert_true(strlen(p) > strlen("/msmtprc"));
	assert_string_equal(p + strlen(p) - strlen("/msmtprc"), "/msmtprc");
	free(p);
}

/* ------------------------------------------------------------------ */
/* selection */

static const char sel_sys[] =
    "account sysacct\n"
    "host sys\n"
    "from shared@example.com\n";

static const char sel_user[] =
    "account exact\n"
    "host h-exact\n"
    "from Joe@Example.com\n"
    "account glob\n"
    "host h-glob\n"
    "from *@lists.example.org\n"
    "account shared\n"
    "host h-shared\n"
    "from shared@example.com\n"
    "account pattern\n"
    "host h-pattern\n"
    "from %U@example.net\n"
    "account default\n"
    "host h-default\n";

static void load_selection(struct fixture *f)
{
	assert_int_equal(conf_load_text(&f->c, "/etc/msmtprc", sel_sys,
	    strlen(sel_sys), 0, &f->e), 0);
	assert_int_equal(conf_load_text(&f->c, "/home/u/.msmtprc", sel_user,
	    strlen(sel_user), 1, &f->e), 0);
	f->c.user_file = strdup("/home/u/.msmtprc");
}

static void test_find_by_from(void **state)
{
	static const struct {
		const char *addr;
		const char *account;    /* NULL: no match */
	} cases[] = {
		{ "joe@example.com", "exact" },
		{ "JOE@EXAMPLE.COM", "exact" },
		{ "joe+tag@example.com", "exact" },
		{ "joe+a+b@example.com", "exact" },
		{ "joex@example.com", NULL },
		{ "anyone@lists.example.org", "glob" },
		{ "Anyone@LISTS.example.org", "glob" },
		{ "x@sub.lists.example.org", NULL },
		{ "shared@example.com", "sysacct" },  /* system first */
		{ "%U@example.net", "pattern" },       /* literal only */
		{ "root@example.net", NULL },
		{ "+x@example.com", NULL },
		{ "nobody@nowhere", NULL },
	};
	struct fixture *f = *state;
	size_t i;

	load_selection(f);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct account *a = conf_find_by_from(&f->c, cases[i].addr);

		if (cases[i].account == NULL) {
			if (a != NULL)
				fail_msg("%s matched %s", cases[i].addr,
				    a->name);
			continue;
		}
		if (a == NULL)
			fail_msg("%s matched nothing", cases[i].addr);
		assert_string_equal(a->name, cases[i].account);
	}
}

/* System-file accounts are searched first whatever the load order. */
static void test_find_by_from_system_first(void **state)
{
	struct fixture *f = *state;
	static const char usr[] = "account u\nfrom a@b\n";
	static const char sys[] = "account s\nfrom a@b\n";

	assert_int_equal(conf_load_text(&f->c, "user", usr, strlen(usr), 1,
	    &f->e), 0);
	assert_int_equal(conf_load_text(&f->c, "sys", sys, strlen(sys), 0,
	    &f->e), 0);
	assert_string_equal(f->c.v[0]->name, "u");
	assert_string_equal(conf_find_by_from(&f->c, "a@b")->name, "s");
}

static void test_select(void **state)
{
	struct fixture *f = *state;
	struct account *a;

	load_selection(f);
	a = conf_select(&f->c, "glob", "joe@example.com", &f->e);
	assert_non_null(a);
	assert_string_equal(a->name, "glob");  /* -a wins over -f */
	conf_account_free(a);

	a = conf_select(&f->c, NULL, "joe+x@example.com", &f->e);
	assert_non_null(a);
	assert_string_equal(a->name, "exact");
	/* a copy: changing it leaves the configuration alone */
	a->host[0] = 'X';
	assert_string_equal(must_find(f, "exact")->host, "h-exact");
	conf_account_free(a);

	a = conf_select(&f->c, NULL, "other@x", &f->e);
	assert_non_null(a);
	assert_string_equal(a->name, "default");
	conf_account_free(a);

	a = conf_select(&f->c, NULL, NULL, &f->e);
	assert_non_null(a);
	assert_string_equal(a->name, "default");
	conf_account_free(a);

	assert_null(conf_select(&f->c, "nope", NULL, &f->e));
	assert_int_equal(f->e.code, ERR_CONFIG);
	assert_string_equal(f->e.msg,
	    "account nope not found in /home/u/.msmtprc");
}

static void test_select_no_file(void **state)
{
	struct fixture *f = *state;

	assert_null(conf_select(&f->c, "x", NULL, &f->e));
	assert_int_equal(f->e.code, ERR_CONFIG);
	assert_string_equal(f->e.msg,
	    "account x not found: no configuration file available");
	err_init(&f->e);
	assert_null(conf_select(&f->c, NULL, "a@b", &f->e));
	assert_string_equal(f->e.msg,
	    "account default not found: no configuration file available");
	err_init(&f->e);
	f->c.system_file = strdup("/etc/msmtprc");
	assert_null(conf_select(&f->c, NULL, NULL, &f->e));
	assert_string_equal(f->e.msg,
	    "account default not found in /etc/msmtprc");
}

static void test_select_environment(void **state)
{
	struct fixture *f = *state;
	struct account *a;

	load_ok(f, "account other\nhost o\nfrom o@x\n");
	setenv("SMTPSERVER", "env.example", 1);
	setenv("EMAIL", "me@env.example", 1);
	a = conf_select(&f->c, NULL, "nobody@x", &f->e);
	assert_non_null(a);
	assert_string_equal(a->name, "environment");
	assert_string_equal(a->host, "env.example");
	assert_string_equal(a->from, "me@env.example");
	conf_account_free(a);

	unsetenv("EMAIL");
	a = conf_select(&f->c, NULL, NULL, &f->e);
	assert_non_null(a);
	assert_null(a->from);
	conf_account_free(a);

	/* a matching from still wins over the environment */
	a = conf_select(&f->c, NULL, "o@x", &f->e);
	assert_non_null(a);
	assert_string_equal(a->name, "other");
	conf_account_free(a);

	/* -a is not satisfied by the environment */
	assert_null(conf_select(&f->c, "missing", NULL, &f->e));
	unsetenv("SMTPSERVER");
}

static void test_from_is_pattern(void **state)
{
	(void)state;
	assert_int_equal(conf_from_is_pattern("a@b"), 0);
	assert_int_equal(conf_from_is_pattern("%U@b"), 0);
	assert_int_equal(conf_from_is_pattern(NULL), 0);
	assert_int_equal(conf_from_is_pattern("*@b"), 1);
	assert_int_equal(conf_from_is_pattern("a?@b"), 1);
	assert_int_equal(conf_from_is_pattern("[ab]@b"), 1);
}

/* ------------------------------------------------------------------ */
/* finish */

static struct account *account_with(const char *const *kv)
{
	struct account *a = conf_account_new("t");
	struct err e;

	assert_non_null(a);
	err_init(&e);
	for (; kv[0] != NULL; kv += 2)
		if (conf_account_set(a, kv[0], kv[1], "t", &e) != 0)
			fail_msg("%s", e.msg);
	return a;
}

static void test_finish_defaults(void **state)
{
	static const struct {
		const char *kv[12];
		int ok;
		int port;
		const char *msg;
	} cases[] = {
		{ { "host", "h", NULL }, 1, 25, NULL },
		{ { "host", "h", "tls", "on", NULL }, 1, 587, NULL },
		{ { "host", "h", "tls", "on", "tls_starttls", "off", NULL },
		    1, 465, NULL },
		{ { "host", "h", "tls", "off", "tls_starttls", "off", NULL },
		    1, 25, NULL },
		{ { "host", "h", "port", "2525", "tls", "on",
		    "tls_starttls", "off", NULL }, 1, 2525, NULL },
		{ { "socket", "/s", NULL }, 1, 25, NULL },
		{ { NULL }, 0, 0, "host not set" },
		{ { "host", "h", "protocol", "lmtp", NULL }, 0, 0,
		    "port not set" },
		{ { "host", "h", "protocol", "lmtp", "port", "24", NULL },
		    1, 24, NULL },
		{ { "socket", "/s", "protocol", "lmtp", NULL }, 1, 0, NULL },
		{ { "host", "h", "tls_key_file", "/k", NULL }, 0, 0,
		    "tls_key_file requires tls_cert_file" },
		{ { "host", "h", "tls_cert_file", "/c", NULL }, 0, 0,
		    "tls_cert_file requires tls_key_file" },
		{ { "host", "h", "tls_cert_file", "/c", "tls_key_file", "/k",
		    NULL }, 1, 25, NULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct account *a = account_with(cases[i].kv);
		struct err e;
		int r;

		err_init(&e);
		r = conf_account_finish(a, &e);
		if (cases[i].ok) {
			if (r != 0)
				fail_msg("case %zu: %s", i, e.msg);
			assert_int_equal(a->port, cases[i].port);
			assert_int_equal(a->timeout, CONF_DEFAULT_TIMEOUT);
			assert_string_equal(a->domain, "localhost");
		} else {
			assert_int_equal(r, -1);
			assert_int_equal(e.code, ERR_CONFIG);
			assert_string_equal(e.msg, cases[i].msg);
		}
		conf_account_free(a);
	}
}

static void test_finish_proxy_and_domain(void **state)
{
	static const char *const kv[] = {
		"host", "h", "proxy_host", "127.0.0.1", "domain", "", NULL
	};
	struct account *a = account_with(kv);
	struct err e;

	(void)state;
	err_init(&e);
	assert_null(a->domain);
	assert_int_equal(conf_account_finish(a, &e), 0);
	assert_int_equal(a->proxy_port, 1080);
	assert_string_equal(a->domain, "localhost");
	conf_account_free(a);
}

static char *finish_from(const char *from, struct err *e)
{
	const char *kv[] = { "host", "h", "from", from, NULL };
	struct account *a = account_with(kv);
	char *out;

	err_init(e);
	if (conf_account_finish(a, e) != 0) {
		conf_account_free(a);
		return NULL;
	}
	out = strdup(a->from);
	conf_account_free(a);
	return out;
}

static void test_finish_expansion(void **state)
{
	char host[HOST_NAME_MAX + 2] = "";
	char want[512];
	struct err e;
	char *s;

	(void)state;
	setenv("USER", "alice", 1);
	setenv("LOGNAME", "bob", 1);
	s = finish_from("%U@example.com", &e);
	assert_string_equal(s, "alice@example.com");
	free(s);
	unsetenv("USER");
	s = finish_from("%U@example.com", &e);
	assert_string_equal(s, "bob@example.com");
	free(s);
	unsetenv("LOGNAME");
	s = finish_from("%U", &e);
	assert_non_null(s);
	assert_true(strlen(s) > 0);           /* from the passwd entry */
	assert_null(strchr(s, '%'));
	free(s);

	assert_int_equal(gethostname(host, sizeof host - 1), 0);
	snprintf(want, sizeof want, "x@%s", host);
	s = finish_from("x@%H", &e);
	assert_string_equal(s, want);
	free(s);
	s = finish_from("x@%C", &e);
	assert_non_null(s);
	assert_true(strlen(s) > 2);
	assert_null(strchr(s, '%'));
	free(s);

	s = finish_from("100%%@%F-%x%", &e);
	assert_string_equal(s, "100%@%F-%x%");
	free(s);
	/* a glob pattern is left alone */
	s = finish_from("%U*@x", &e);
	assert_string_equal(s, "%U*@x");
	free(s);
}

static void test_finish_domain_expansion(void **state)
{
	static const char *const kv[] = { "host", "h", "domain", "%H", NULL };
	char host[HOST_NAME_MAX + 2] = "";
	struct account *a = account_with(kv);
	struct err e;

	(void)state;
	err_init(&e);
	assert_int_equal(gethostname(host, sizeof host - 1), 0);
	assert_int_equal(conf_account_finish(a, &e), 0);
	assert_string_equal(a->domain, host);
	conf_account_free(a);
}

static void test_finish_mailname(void **state)
{
	char *sys = conf_system_path();
	char mailname[PATH_MAX + 16];
	char line[512] = "";
	struct err e;
	FILE *fp;
	char *s;

	(void)state;
	assert_non_null(sys);
	snprintf(mailname, sizeof mailname, "%.*s/mailname",
	    (int)(strlen(sys) - strlen("/msmtprc")), sys);
	free(sys);
	s = finish_from("a@%M", &e);
	fp = fopen(mailname, "r");
	if (fp == NULL) {
		char want[PATH_MAX + 64];

		assert_null(s);
		assert_int_equal(e.code, ERR_CONFIG);
		snprintf(want, sizeof want, "cannot read %s: ", mailname);
		assert_memory_equal(e.msg, want, strlen(want));
		return;
	}
	if (fgets(line, sizeof line, fp) == NULL)
		line[0] = '\0';
	fclose(fp);
	line[strcspn(line, "\r\n")] = '\0';
	if (line[0] == '\0') {
		assert_null(s);
		return;
	}
	assert_non_null(s);
	assert_memory_equal(s, "a@", 2);
	assert_string_equal(s + 2, line);
	free(s);
}

/* ------------------------------------------------------------------ */
/* legacy */

static void test_legacy_auto_from(void **state)
{
	struct fixture *f = *state;

	load_ok(f,
	    "account a\n"
	    "from x@y\n"
	    "auto_from on\n"
	    "maildomain example.com\n"
	    "account b\n"
	    "maildomain example.org\n"
	    "auto_from on\n"
	    "account c\n"
	    "auto_from\n"
	    "account d\n"
	    "maildomain example.net\n"
	    "from plain@x\n"
	    "defaults\n"
	    "maildomain dflt.example\n"
	    "account e\n"
	    "auto_from on\n"
	    "account g : a\n"
	    "account h\n"
	    "auto_from on\n"
	    "auto_from off\n"
	    "maildomain ignored.example\n");
	assert_string_equal(must_find(f, "a")->from, "%U@example.com");
	assert_string_equal(must_find(f, "b")->from, "%U@example.org");
	assert_string_equal(must_find(f, "c")->from, "%U");
	assert_string_equal(must_find(f, "d")->from, "plain@x");
	assert_string_equal(must_find(f, "e")->from, "%U@dflt.example");
	assert_string_equal(must_find(f, "g")->from, "%U@example.com");
	/* auto_from off keeps the address it made; maildomain is then inert */
	assert_string_equal(must_find(f, "h")->from, "%U@dflt.example");
}

static void test_legacy_in_files(void **state)
{
	struct fixture *f = *state;
	struct account *a;

	load_ok(f,
	    "account a\n"
	    "host h\n"
	    "tls_nocertcheck\n"
	    "tls_nostarttls\n"
	    "tls_force_sslv3 on\n"
	    "keepbcc on\n"
	    "undisclosed_recipients on\n"
	    "add_missing_from_header off\n"
	    "add_missing_date_header off\n");
	a = must_find(f, "a");
	assert_int_equal(a->tls_certcheck, CONF_OFF);
	assert_int_equal(a->tls_starttls, CONF_OFF);
	assert_int_equal(a->remove_bcc_headers, CONF_OFF);
	assert_int_equal(a->set_to_header, CONF_TO_UNDISCLOSED);
	assert_int_equal(a->set_from_header, CONF_OFF);
	assert_int_equal(a->set_date_header, CONF_OFF);
}

static void test_legacy_inherited_as_modern(void **state)
{
	struct fixture *f = *state;

	load_ok(f,
	    "account p\n"
	    "keepbcc\n"
	    "tls_nocertcheck\n"
	    "defaults\n"
	    "remove_bcc_headers on\n"
	    "account c : p\n");
	assert_int_equal(must_find(f, "c")->remove_bcc_headers, CONF_OFF);
	assert_int_equal(must_find(f, "c")->tls_certcheck, CONF_OFF);
}

/* OAuth2: presets fill what is not set, explicit values win, and the
 * combinations that cannot work are configuration errors. */
struct oauth_row {
	const char *name;
	const char *text;       /* account lines after "account a\nhost h\n" */
	int ok;
	const char *token_endpoint, *auth, *scope;
	int flow;
	const char *error;      /* substring when !ok */
};

static const struct oauth_row oauth_rows[] = {
	{ "microsoft preset", "oauth2_provider microsoft\noauth2_client_id c\n",
	  1, "https://login.microsoftonline.com/common/oauth2/v2.0/token", "on",
	  "https://outlook.office.com/SMTP.Send offline_access",
	  CONF_OAUTH2_FLOW_DEVICE, NULL },
	{ "microsoft tenant", "oauth2_provider microsoft\noauth2_client_id c\n"
	  "oauth2_tenant organizations\n", 1,
	  "https://login.microsoftonline.com/organizations/oauth2/v2.0/token",
	  "on", NULL, CONF_OAUTH2_FLOW_DEVICE, NULL },
	{ "google preset", "oauth2_provider google\noauth2_client_id c\n", 1,
	  "https://oauth2.googleapis.com/token", "on", "https://mail.google.com/",
	  CONF_OAUTH2_FLOW_CODE, NULL },
	{ "explicit endpoint wins", "oauth2_provider microsoft\n"
	  "oauth2_client_id c\noauth2_token_endpoint https://127.0.0.1:1/token\n"
	  "auth xoauth2\noauth2_flow code\n", 1, "https://127.0.0.1:1/token",
	  "xoauth2", NULL, CONF_OAUTH2_FLOW_CODE, NULL },
	{ "custom with a device endpoint: device", "oauth2_provider custom\n"
	  "oauth2_client_id c\noauth2_token_endpoint https://p/t\n"
	  "oauth2_device_endpoint https://p/d\n", 1, "https://p/t", "on", NULL,
	  CONF_OAUTH2_FLOW_DEVICE, NULL },
	{ "custom without endpoints", "oauth2_provider custom\n"
	  "oauth2_client_id c\n", 0, NULL, NULL, NULL, 0,
	  "oauth2_token_endpoint is not set" },
	{ "custom code flow needs the auth endpoint", "oauth2_provider custom\n"
	  "oauth2_client_id c\noauth2_token_endpoint https://p/t\n", 0, NULL,
	  NULL, NULL, 0, "oauth2_auth_endpoint is not set" },
	{ "plain http endpoint", "oauth2_provider google\noauth2_client_id c\n"
	  "oauth2_token_endpoint http://p/t\n", 0, NULL, NULL, NULL, 0,
	  "must be an https:// address" },
	{ "with password", "oauth2_provider google\noauth2_client_id c\n"
	  "password x\n", 0, NULL, NULL, NULL, 0, "cannot be combined with "
	  "password" },
	{ "with passwordeval", "oauth2_provider google\noauth2_client_id c\n"
	  "passwordeval echo x\n", 0, NULL, NULL, NULL, 0, "passwordeval" },
	{ "without client id", "oauth2_provider google\n", 0, NULL, NULL, NULL,
	  0, "oauth2_client_id is not set" },
	{ "other auth method", "oauth2_provider google\noauth2_client_id c\n"
	  "auth plain\n", 0, NULL, NULL, NULL, 0, "auth must be on" },
	{ "bad provider", "oauth2_provider yahoo\n", 0, NULL, NULL, NULL, 0,
	  "oauth2_provider" },
	{ "bad flow", "oauth2_flow implicit\n", 0, NULL, NULL, NULL, 0,
	  "oauth2_flow" },
	{ "bad margin", "oauth2_refresh_margin -1\n", 0, NULL, NULL, NULL, 0,
	  "oauth2_refresh_margin" },
};

static void test_oauth2_presets_and_checks(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof oauth_rows / sizeof oauth_rows[0]; i++) {
		const struct oauth_row *r = &oauth_rows[i];
		struct conf c;
		struct account *a;
		struct err e;
		char text[1024];
		int rc;

		conf_init(&c);
		err_init(&e);
		snprintf(text, sizeof text, "account a\nhost h\n%s", r->text);
		rc = conf_load_text(&c, "rc", text, strlen(text), 0, &e);
		a = rc == 0 ? conf_account_dup(conf_find(&c, "a")) : NULL;
		if (a != NULL)
			rc = conf_account_finish(a, &e);
		if (r->ok && rc != 0)
			fail_msg("%s: %s", r->name, e.msg);
		if (!r->ok && (rc == 0 || strstr(e.msg, r->error) == NULL))
			fail_msg("%s: rc %d, message '%s'", r->name, rc, e.msg);
		if (r->ok) {
			assert_string_equal(a->oauth2_token_endpoint,
					    r->token_endpoint);
			assert_string_equal(a->auth, r->auth);
			if (r->scope)
				assert_string_equal(a->oauth2_scope, r->scope);
			assert_int_equal(a->oauth2_flow, r->flow);
		}
		conf_account_free(a);
		conf_free(&c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_account_new_defaults),
		cmocka_unit_test(test_oauth2_presets_and_checks),
		cmocka_unit_test(test_set_table),
		cmocka_unit_test(test_set_messages),
		cmocka_unit_test(test_set_marks_isset_and_dup),
		cmocka_unit_test(test_tilde_expansion),
		cmocka_unit_test_setup_teardown(test_syntax_comments_quotes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax_quote_errors,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax_text_after_quote,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_syntax_escaped_final_quote, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_syntax_crlf_and_no_final_newline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax_nul_byte,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax_unknown_command,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_syntax_bad_value_names_line, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_syntax_bad_value_is_quoted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax_long_lines,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_defaults_apply_to_later_accounts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_logfile_format_inherited,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults_with_argument,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_inheritance_order,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_inheritance_of_unset_value, setup, teardown),
		cmocka_unit_test_setup_teardown(test_implicit_default_account,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_implicit_default_then_explicit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_account_default_alias,
		    setup, teardown),
		cmocka_unit_test(test_account_errors),
		cmocka_unit_test_setup_teardown(test_parent_from_earlier_file,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_eval_success,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_eval_account_line,
		    setup, teardown),
		cmocka_unit_test(test_eval_errors),
		cmocka_unit_test_setup_teardown(test_eval_does_not_read_stdin,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_eval_infinite_output,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_eval_timeout_kills_group,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_eval_timeout_from_defaults,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_size_bound,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_fifo,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_missing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_loaded_and_recorded,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults_kept,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults_builtin,
		    setup, teardown),
		cmocka_unit_test(test_file_permissions),
		cmocka_unit_test_setup_teardown(
		    test_file_syntax_error_names_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_directory,
		    setup, teardown),
		cmocka_unit_test(test_file_unreadable_skipped),
		cmocka_unit_test(test_paths),
		cmocka_unit_test_setup_teardown(test_find_by_from,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_find_by_from_system_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_no_file,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_environment,
		    setup, teardown),
		cmocka_unit_test(test_from_is_pattern),
		cmocka_unit_test(test_finish_defaults),
		cmocka_unit_test(test_finish_proxy_and_domain),
		cmocka_unit_test(test_finish_expansion),
		cmocka_unit_test(test_finish_domain_expansion),
		cmocka_unit_test(test_finish_mailname),
		cmocka_unit_test_setup_teardown(test_legacy_auto_from,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_legacy_in_files,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_legacy_inherited_as_modern, setup, teardown),
	};
	int r;

	r = cmocka_run_group_tests(tests, NULL, NULL);
	if (tmpdir[0] != '\0') {
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			r = r ? r : 1;
	}
	return r;
}
