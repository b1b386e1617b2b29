/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "err.h"

#define MAX_ARGS 16
#define JOIN_MAX 1024

/* ------------------------------------------------------------------ */
/* helpers */

/* A writable copy of a NULL-terminated argv (the parser keeps pointers
 * into it, as it would into the real argv). */
struct args {
	int argc;
	char *argv[MAX_ARGS + 1];
};

static void args_make(struct args *a, const char *const *words)
{
	int k;

	for (k = 0; k < MAX_ARGS && words[k] != NULL; k++) {
		a->argv[k] = strdup(words[k]);
		assert_non_null(a->argv[k]);
	}
	a->argv[k] = NULL;
	a->argc = k;
}

static void args_free(struct args *a)
{
	int k;

	for (k = 0; k < a->argc; k++)
		free(a->argv[k]);
}

/* "cmd=val;cmd=val" in argv order */
static void join_settings(const struct opts *o, char *out, size_t outlen)
{
	size_t k, pos = 0;
	int n;

	out[0] = '\0';
	for (k = 0; k < o->nsettings; k++) {
		n = snprintf(out + pos, outlen - pos, "%s%s=%s", k ? ";" : "",
		    o->settings[k].cmd, o->settings[k].arg);
		assert_true(n >= 0 && (size_t)n < outlen - pos);
		pos += (size_t)n;
	}
}

/* "a|b|c" */
static void join_recipients(const struct opts *o, char *out, size_t outlen)
{
	size_t k, pos = 0;
	int n;

	out[0] = '\0';
	for (k = 0; k < o->nrecipients; k++) {
		n = snprintf(out + pos, outlen - pos, "%s%s", k ? "|" : "",
		    o->recipients[k]);
		assert_true(n >= 0 && (size_t)n < outlen - pos);
		pos += (size_t)n;
	}
}

static void assert_opt_str(const char *name, const char *want,
			   const char *got)
{
	if (want == NULL && got == NULL)
		return;
	if (want == NULL || got == NULL || strcmp(want, got) != 0)
		fail_msg("%s: want %s%s%s, got %s%s%s", name,
		    want ? "'" : "", want ? want : "NULL", want ? "'" : "",
		    got ? "'" : "", got ? got : "NULL", got ? "'" : "");
}

/* ------------------------------------------------------------------ */
/* argv that must parse */

struct ok_case {
	const char *argv[MAX_ARGS + 1];
	enum cli_mode mode;
	const char *prog;       /* NULL: not checked */
	int as_sendmail;
	int debug;
	int print_version_too;
	int host_given;
	const char *conf_file;
	const char *account;
	const char *from;
	const char *full_name;
	int read_recipients;
	int read_envelope_from;
	int ignore_dots;
	const char *settings;   /* join_settings() form; NULL = none */
	const char *recipients; /* join_recipients() form; NULL = none */
	int nrecipients;
};

static const struct ok_case ok_cases[] = {
	/* real callers: PHP mail() */
	{ .argv = { "/usr/sbin/sendmail", "-t", "-i", NULL },
	  .prog = "sendmail", .as_sendmail = 1, .read_recipients = 1,
	  .ignore_dots = 1 },
	{ .argv = { "/usr/sbin/sendmail", "-t", "-i", "-f", "www@example.com",
		    NULL },
	  .as_sendmail = 1, .read_recipients = 1, .ignore_dots = 1,
	  .from = "www@example.com" },
	{ .argv = { "/usr/sbin/sendmail", "-t", "-i", "-fwww@example.com",
		    NULL },
	  .as_sendmail = 1, .read_recipients = 1, .ignore_dots = 1,
	  .from = "www@example.com" },
	/* mutt */
	{ .argv = { "sendmail", "-oem", "-oi", "--", "a@x", "b@y", NULL },
	  .as_sendmail = 1, .ignore_dots = 1, .recipients = "a@x|b@y",
	  .nrecipients = 2 },
	{ .argv = { "sendmail", "-oem", "-oi", "-f", "me@x", "-B8BITMIME",
		    "--", "a@x", "b@y", NULL },
	  .as_sendmail = 1, .ignore_dots = 1, .from = "me@x",
	  .recipients = "a@x|b@y", .nrecipients = 2 },
	/* git send-email */
	{ .argv = { "/usr/sbin/sendmail", "-i", "a@x", "b@y", NULL },
	  .as_sendmail = 1, .ignore_dots = 1, .recipients = "a@x|b@y",
	  .nrecipients = 2 },
	/* Debian cron */
	{ .argv = { "/usr/sbin/sendmail", "-FCronDaemon", "-i", "-B8BITMIME",
		    "-oem", "user", NULL },
	  .as_sendmail = 1, .full_name = "CronDaemon", .ignore_dots = 1,
	  .recipients = "user", .nrecipients = 1 },
	/* cronie */
	{ .argv = { "/usr/sbin/sendmail", "-FCronDaemon", "-i", "-odi", "-oem",
		    "-oi", "-t", "-f", "root", NULL },
	  .as_sendmail = 1, .full_name = "CronDaemon", .ignore_dots = 1,
	  .read_recipients = 1, .from = "root" },
	/* mailx / s-nail */
	{ .argv = { "/usr/sbin/sendmail", "-i", "--", "rcpt", NULL },
	  .as_sendmail = 1, .ignore_dots = 1, .recipients = "rcpt",
	  .nrecipients = 1 },

	/* program name */
	{ .argv = { "msmtp", "a@x", NULL }, .prog = "msmtp",
	  .recipients = "a@x", .nrecipients = 1 },
	{ .argv = { "/usr/bin/msmtp", NULL }, .prog = "msmtp" },
	{ .argv = { "sendmail.msmtp", NULL }, .prog = "sendmail.msmtp" },
	{ .argv = { "/usr/lib/sendmail", NULL }, .prog = "sendmail",
	  .as_sendmail = 1 },
	{ .argv = { "/weird/", NULL }, .prog = "msmtp" },

	/* glued and separate values */
	{ .argv = { "msmtp", "-f", "", NULL }, .from = "" },
	{ .argv = { "msmtp", "-F", "", NULL }, .full_name = "" },
	{ .argv = { "msmtp", "-F", "Jo Doe", "a@x", NULL },
	  .full_name = "Jo Doe", .recipients = "a@x", .nrecipients = 1 },
	{ .argv = { "msmtp", "-r", "bounce@x", NULL }, .from = "bounce@x" },
	{ .argv = { "msmtp", "-rbounce@x", NULL }, .from = "bounce@x" },
	{ .argv = { "msmtp", "--from=me@x", NULL }, .from = "me@x" },
	{ .argv = { "msmtp", "--from", "me@x", NULL }, .from = "me@x" },
	{ .argv = { "msmtp", "-f", "-t", NULL }, .from = "-t" },
	{ .argv = { "msmtp", "-f", "a@x", "-f", "b@x", NULL }, .from = "b@x" },
	{ .argv = { "msmtp", "-B", "8BITMIME", "a@x", NULL },
	  .recipients = "a@x", .nrecipients = 1 },
	{ .argv = { "msmtp", "-C", "/tmp/rc", "-a", "work", NULL },
	  .conf_file = "/tmp/rc", .account = "work" },
	{ .argv = { "msmtp", "-C/tmp/rc", "-awork", NULL },
	  .conf_file = "/tmp/rc", .account = "work" },
	{ .argv = { "msmtp", "--file=/tmp/rc", "--account=work", NULL },
	  .conf_file = "/tmp/rc", .account = "work" },
	{ .argv = { "msmtp", "--file", "/tmp/rc", "--account", "work", NULL },
	  .conf_file = "/tmp/rc", .account = "work" },

	/* clusters */
	{ .argv = { "msmtp", "-ti", NULL }, .read_recipients = 1,
	  .ignore_dots = 1 },
	{ .argv = { "msmtp", "-it", NULL }, .read_recipients = 1,
	  .ignore_dots = 1 },
	{ .argv = { "msmtp", "-tif", "me@x", "a@x", NULL },
	  .read_recipients = 1, .ignore_dots = 1, .from = "me@x",
	  .recipients = "a@x", .nrecipients = 1 },
	{ .argv = { "msmtp", "-tifme@x", "a@x", NULL },
	  .read_recipients = 1, .ignore_dots = 1, .from = "me@x",
	  .recipients = "a@x", .nrecipients = 1 },
	{ .argv = { "msmtp", "-Gmn", "-U", "a@x", NULL },
	  .recipients = "a@x", .nrecipients = 1 },

	/* -o */
	{ .argv = { "msmtp", "-o", "i", NULL }, .ignore_dots = 1 },
	{ .argv = { "msmtp", "-oem", NULL }, .ignore_dots = 0 },
	{ .argv = { "msmtp", "-o", "em", "a@x", NULL },
	  .recipients = "a@x", .nrecipients = 1 },
	{ .argv = { "msmtp", "-oQ/var/spool", "-oXyz", "-odb", "-odq", "-odd",
		    "-oee", "-oep", "-oeq", "-oew", NULL } },

	/* every ignored option consumes exactly its own words */
	{ .argv = { "msmtp", "-X", "/var/www/shell.php", "a@x", NULL },
	  .recipients = "a@x", .nrecipients = 1 },
	{ .argv = { "msmtp", "-X/var/www/shell.php", "-t", NULL },
	  .read_recipients = 1 },
	{ .argv = { "msmtp", "-V", "envid", "a@x", NULL },
	  .recipients = "a@x", .nrecipients = 1 },
	{ .argv = { "msmtp", "-Venvid", "a@x", NULL },
	  .recipients = "a@x", .nrecipients = 1 },
	{ .argv = { "msmtp", "-O", "DeliveryMode=b", "a@x", NULL },
	  .recipients = "a@x", .nrecipients = 1 },
	{ .argv = { "msmtp", "-ODeliveryMode=b", "a@x", NULL },
	  .recipients = "a@x", .nrecipients = 1 },
	{ .argv = { "msmtp", "-A", "c", "a@x", NULL },
	  .recipients = "a@x", .nrecipients = 1 },
	{ .argv = { "msmtp", "-Ac", "a@x", NULL },
	  .recipients = "a@x", .nrecipients = 1 },
	{ .argv = { "msmtp", "-h", "5", "a@x", NULL },
	  .recipients = "a@x", .nrecipients = 1 },
	{ .argv = { "msmtp", "-h5", "a@x", NULL },
	  .recipients = "a@x", .nrecipients = 1 },
	{ .argv = { "msmtp", "-L", "tag", "a@x", NULL },
	  .recipients = "a@x", .nrecipients = 1 },
	{ .argv = { "msmtp", "-Ltag", "a@x", NULL },
	  .recipients = "a@x", .nrecipients = 1 },
	{ .argv = { "msmtp", "-G", "-m", "-n", "-U", "a@x", NULL },
	  .recipients = "a@x", .nrecipients = 1 },
	{ .argv = { "msmtp", "-bm", "a@x", NULL },
	  .recipients = "a@x", .nrecipients = 1 },
	{ .argv = { "msmtp", "-b", "m", "a@x", NULL },
	  .recipients = "a@x", .nrecipients = 1 },

	/* DSN */
	{ .argv = { "msmtp", "-N", "failure,delay", "-R", "hdrs", NULL },
	  .settings = "dsn_notify=failure,delay;dsn_return=hdrs" },
	{ .argv = { "msmtp", "-Nnever", "-Rfull", NULL },
	  .settings = "dsn_notify=never;dsn_return=full" },
	{ .argv = { "msmtp", "--dsn-notify=success", "--dsn-return", "headers",
		    NULL },
	  .settings = "dsn_notify=success;dsn_return=headers" },

	/* account settings */
	{ .argv = { "msmtp", "--host=h", NULL }, .host_given = 1,
	  .settings = "host=h" },
	{ .argv = { "msmtp", "--host", "h", "--port=25", "--port", "587",
		    NULL },
	  .host_given = 1, .settings = "host=h;port=25;port=587" },
	{ .argv = { "msmtp", "--timeout=off", "--connect-timeout=5",
		    "--protocol=lmtp", "--domain=", NULL },
	  .settings = "timeout=off;timeout=5;protocol=lmtp;domain=" },
	{ .argv = { "msmtp", "--domain", "", NULL }, .settings = "domain=" },
	{ .argv = { "msmtp", "--auth", "--auth=plain", "--user=u",
		    "--passwordeval=pass show x", NULL },
	  .settings = "auth=on;auth=plain;user=u;passwordeval=pass show x" },
	{ .argv = { "msmtp", "--source-ip=::1", "--proxy-host=p",
		    "--proxy-port=1080", "--socket=/run/s", NULL },
	  .settings = "source_ip=::1;proxy_host=p;proxy_port=1080;"
		      "socket=/run/s" },
	{ .argv = { "msmtp", "--ip-family=ipv6", "--ip-family", "any", NULL },
	  .settings = "ip_family=ipv6;ip_family=any" },
	{ .argv = { "msmtp", "--tls", "--tls=off", "--tls-starttls",
		    "--tls-starttls=off", "--tls-certcheck",
		    "--tls-certcheck=off", NULL },
	  .settings = "tls=on;tls=off;tls_starttls=on;tls_starttls=off;"
		      "tls_certcheck=on;tls_certcheck=off" },
	{ .argv = { "msmtp", "--tls-trust-file=t", "--tls-crl-file=c",
		    "--tls-fingerprint=00:11:22:33:44:55:66:77:88:99:aa:bb:cc:"
		    "dd:ee:ff:00:11:22:33", "--tls-key-file=k",
		    "--tls-cert-file=c2", NULL },
	  .settings = "tls_trust_file=t;tls_crl_file=c;tls_fingerprint="
		      "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:"
		      "22:33;tls_key_file=k;tls_cert_file=c2" },
	{ .argv = { "msmtp", "--tls-priorities=NORMAL", "--tls-host-override=o",
		    "--tls-min-dh-prime-bits=1024", "--tls-force-sslv3", NULL },
	  .settings = "tls_priorities=NORMAL;tls_host_override=o;"
		      "tls_min_dh_prime_bits=1024;tls_force_sslv3=on" },
	{ .argv = { "msmtp", "--logfile=-", "--logfile-time-format=none",
		    "--syslog", "--syslog=LOG_MAIL", "--aliases=/etc/aliases",
		    NULL },
	  .settings = "logfile=-;logfile_time_format=none;syslog=on;"
		      "syslog=LOG_MAIL;aliases=/etc/aliases" },
	{ .argv = { "msmtp", "--set-from-header", "--set-date-header",
		    "--set-msgid-header", "--set-to-header",
		    "--remove-bcc-headers", NULL },
	  .settings = "set_from_header=on;set_date_header=auto;"
		      "set_msgid_header=auto;set_to_header=on;"
		      "remove_bcc_headers=on" },
	{ .argv = { "msmtp", "--set-from-header=off", "--set-date-header=off",
		    "--set-msgid-header=off",
		    "--set-to-header=undisclosed_recipients",
		    "--remove-bcc-headers=off", NULL },
	  .settings = "set_from_header=off;set_date_header=off;"
		      "set_msgid_header=off;"
		      "set_to_header=undisclosed_recipients;"
		      "remove_bcc_headers=off" },
	{ .argv = { "msmtp", "--partial-delivery", "--from-full-name=Jo",
		    "--allow-from-override=off", "--allow-from-override",
		    NULL },
	  .settings = "partial_delivery=on;from_full_name=Jo;"
		      "allow_from_override=off;allow_from_override=on" },
	{ .argv = { "msmtp", "--undisclosed-recipients",
		    "--add-missing-from-header", "--add-missing-date-header=off",
		    "--keepbcc", "--auto-from=on", "--maildomain=x.org", NULL },
	  .settings = "set_to_header=undisclosed_recipients;"
		      "add_missing_from_header=on;"
		      "add_missing_date_header=off;keepbcc=on;auto_from=on;"
		      "maildomain=x.org" },
	/* bare optional option followed by an ordinary recipient */
	{ .argv = { "msmtp", "--tls", "a@x", NULL }, .settings = "tls=on",
	  .recipients = "a@x", .nrecipients = 1 },
	/* an empty "=" value is passed on (conf treats it as on / unset) */
	{ .argv = { "msmtp", "--tls=", "--user=", NULL },
	  .settings = "tls=;user=" },
	{ .argv = { "msmtp", "--read-recipients", "--read-envelope-from",
		    NULL },
	  .read_recipients = 1, .read_envelope_from = 1 },

	/* recipients */
	{ .argv = { "msmtp", "a@x, b@y", NULL }, .recipients = "a@x, b@y",
	  .nrecipients = 1 },
	{ .argv = { "msmtp", "--", NULL } },
	{ .argv = { "msmtp", "", "a@x", NULL }, .recipients = "|a@x",
	  .nrecipients = 2 },
	{ .argv = { "msmtp", "a@x", "b@y", "c", NULL },
	  .recipients = "a@x|b@y|c", .nrecipients = 3 },

	/* modes and debug */
	{ .argv = { "msmtp", "--version", NULL }, .mode = CLI_MODE_VERSION },
	{ .argv = { "msmtp", "--help", NULL }, .mode = CLI_MODE_HELP },
	{ .argv = { "msmtp", "--version", "--help", NULL },
	  .mode = CLI_MODE_HELP },
	{ .argv = { "msmtp", "-P", NULL }, .mode = CLI_MODE_PRETEND },
	{ .argv = { "msmtp", "--pretend", "a@x", NULL },
	  .mode = CLI_MODE_PRETEND, .recipients = "a@x", .nrecipients = 1 },
	{ .argv = { "msmtp", "-S", NULL }, .mode = CLI_MODE_SERVERINFO },
	{ .argv = { "msmtp", "--serverinfo", "--host=h", NULL },
	  .mode = CLI_MODE_SERVERINFO, .host_given = 1,
	  .settings = "host=h" },
	{ .argv = { "msmtp", "-d", NULL }, .debug = 1 },
	{ .argv = { "msmtp", "-v", NULL }, .debug = 1 },
	{ .argv = { "msmtp", "--debug", NULL }, .debug = 1 },
	{ .argv = { "msmtp", "--debug=0.1", NULL }, .debug = 1 },
	{ .argv = { "msmtp", "-d0.1", NULL }, .debug = 1,
	  .print_version_too = 1 },
	{ .argv = { "msmtp", "-td0.1", "a@x", NULL }, .debug = 1,
	  .print_version_too = 1, .read_recipients = 1, .recipients = "a@x",
	  .nrecipients = 1 },
	{ .argv = { "msmtp", "-d21.12", NULL }, .debug = 1 },
	{ .argv = { "msmtp", "-d", "a@x", NULL }, .debug = 1,
	  .recipients = "a@x", .nrecipients = 1 },
};

static void check_ok_case(const struct ok_case *c)
{
	char joined[JOIN_MAX];
	struct args a;
	struct opts o;
	struct err e;

	args_make(&a, c->argv);
	err_init(&e);
	cli_opts_init(&o);
	if (cli_parse(a.argc, a.argv, &o, &e) != 0)
		fail_msg("%s %s: unexpected error: %s", c->argv[0],
		    c->argv[1] ? c->argv[1] : "", e.msg);
	assert_int_equal(e.code, 0);
	assert_int_equal(o.mode, c->mode);
	if (c->prog != NULL)
		assert_string_equal(o.prog, c->prog);
	assert_int_equal(o.as_sendmail, c->as_sendmail);
	assert_int_equal(o.debug, c->debug);
	assert_int_equal(o.print_version_too, c->print_version_too);
	assert_int_equal(o.host_given, c->host_given);
	assert_opt_str("conf_file", c->conf_file, o.conf_file);
	assert_opt_str("account", c->account, o.account);
	assert_opt_str("from", c->from, o.from);
	assert_opt_str("full_name", c->full_name, o.full_name);
	assert_int_equal(o.read_recipients, c->read_recipients);
	assert_int_equal(o.read_envelope_from, c->read_envelope_from);
	assert_int_equal(o.ignore_dots, c->ignore_dots);
	join_settings(&o, joined, sizeof joined);
	assert_string_equal(joined, c->settings ? c->settings : "");
	assert_int_equal(o.nrecipients, c->nrecipients);
	join_recipients(&o, joined, sizeof joined);
	assert_string_equal(joined, c->recipients ? c->recipients : "");
	cli_opts_free(&o);
	args_free(&a);
}

static void test_ok_cases(void **state)
{
	size_t k;

	for (k = 0; k < sizeof ok_cases / sizeof ok_cases[0]; k++)
		check_ok_case(&ok_cases[k]);
}

/* ------------------------------------------------------------------ */
/* argv that must be refused */

struct bad_case {
	const char *argv[MAX_ARGS + 1];
	const char *msg;
};

static const struct bad_case bad_cases[] = {
	{ { "msmtp", "-", NULL }, "invalid option -" },
	{ { "msmtp", "--foo", NULL }, "invalid option --foo" },
	{ { "msmtp", "--foo=bar", NULL }, "invalid option --foo" },
	{ { "msmtp", "--ho=h", NULL }, "invalid option --ho" },
	{ { "msmtp", "--vers", NULL }, "invalid option --vers" },
	{ { "msmtp", "---host=h", NULL }, "invalid option ---host" },
	{ { "msmtp", "--HOST=h", NULL }, "invalid option --HOST" },
	{ { "msmtp", "-x", NULL }, "invalid option -- 'x'" },
	{ { "msmtp", "-e", NULL }, "invalid option -- 'e'" },
	{ { "msmtp", "-p", NULL }, "invalid option -- 'p'" },
	{ { "msmtp", "-s", "subject", NULL }, "invalid option -- 's'" },
	{ { "msmtp", "-tx", NULL }, "invalid option -- 'x'" },
	{ { "msmtp", "-t-", NULL }, "invalid option -- '-'" },
	/* hostile bytes are shown escaped, keeping the message one line */
	{ { "msmtp", "-\x1b[2J", NULL }, "invalid option -- '\\x1b'" },
	{ { "msmtp", "--a\nb", NULL }, "invalid option --a\\x0ab" },

	/* missing values */
	{ { "msmtp", "-f", NULL }, "option -f requires an argument" },
	{ { "msmtp", "-tf", NULL }, "option -f requires an argument" },
	{ { "msmtp", "-F", NULL }, "option -F requires an argument" },
	{ { "msmtp", "-C", NULL }, "option -C requires an argument" },
	{ { "msmtp", "-a", NULL }, "option -a requires an argument" },
	{ { "msmtp", "-X", NULL }, "option -X requires an argument" },
	{ { "msmtp", "-o", NULL }, "option -o requires an argument" },
	{ { "msmtp", "-b", NULL }, "option -b requires an argument" },
	{ { "msmtp", "-N", NULL }, "option -N requires an argument" },
	{ { "msmtp", "--host", NULL }, "option --host requires an argument" },
	{ { "msmtp", "--port", NULL }, "option --port requires an argument" },
	{ { "msmtp", "--from", NULL }, "option --from requires an argument" },
	{ { "msmtp", "--version=1", NULL },
	  "option --version does not take an argument" },
	{ { "msmtp", "--read-recipients=yes", NULL },
	  "option --read-recipients does not take an argument" },

	/* operation modes and unsupported features */
	{ { "msmtp", "-bD", NULL }, "unsupported operation mode bD" },
	{ { "msmtp", "-b", "x", NULL }, "unsupported operation mode bx" },
	{ { "sendmail", "-bs", "bob@example.net", NULL }, "too many arguments" },
	{ { "sendmail", "-bs", "-q", NULL }, "-bs cannot be combined with "
	  "another mode" },
	{ { "sendmail", "-bs", "-P", NULL }, "-bs cannot be combined with "
	  "another mode" },
	{ { "msmtp", "-bmx", NULL }, "unsupported operation mode bmx" },
	{ { "msmtp", "-q1h", NULL }, "unsupported queue option -q1h (no queue "
	  "daemon: run 'msmtp --queue-run' from a timer)" },
	{ { "msmtp", "-q", "a@b", NULL }, "too many arguments" },
	{ { "msmtp", "-P", "-q", NULL }, "queue operations cannot be combined "
	  "with -P or -S" },
	{ { "newaliases", "a@x", NULL }, "too many arguments" },
	{ { "sendmail", "-bi", "/etc/aliases", NULL }, "too many arguments" },
	{ { "sendmail", "-bi", "-q", NULL }, "-bi (newaliases) cannot be "
	  "combined with another mode" },
	{ { "sendmail", "-bi", "-bp", NULL }, "-bi (newaliases) cannot be "
	  "combined with another mode" },
	{ { "mailq", "-bi", NULL }, "-bi (newaliases) cannot be combined "
	  "with another mode" },
	{ { "newaliases", "-P", NULL }, "-bi (newaliases) cannot be combined "
	  "with another mode" },
	{ { "sendmail", "-S", "-bi", NULL }, "-bi (newaliases) cannot be "
	  "combined with another mode" },
	{ { "msmtp", "--queue-remove", NULL }, "option --queue-remove requires "
	  "an argument" },
	{ { "msmtp", "--configure=a@b", "-S", NULL },
	  "--configure cannot be combined with another mode" },
	{ { "msmtp", "--configure", "a@b", "c@d", NULL },
	  "too many arguments" },
	{ { "msmtp", "--rmqs=host", "-S", NULL },
	  "--rmqs cannot be combined with another mode" },
	{ { "msmtp", "--rmqs=host", "bob@example.net", NULL },
	  "too many arguments" },
	/* --json is for the queue listing only */
	{ { "msmtp", "--json", NULL }, "option --json needs the queue listing "
	  "(mailq or -bp)" },
	{ { "msmtp", "--json", "a@b", NULL }, "option --json needs the queue "
	  "listing (mailq or -bp)" },
	{ { "msmtp", "-q", "--json", NULL }, "option --json needs the queue "
	  "listing (mailq or -bp)" },
	{ { "msmtp", "-P", "--json", NULL }, "option --json needs the queue "
	  "listing (mailq or -bp)" },
	{ { "msmtp", "--queue-run", "--json", NULL }, "option --json needs the "
	  "queue listing (mailq or -bp)" },
	{ { "mailq", "--json=yes", NULL },
	  "option --json does not take an argument" },

	/* nothing after the first recipient or "--" is an option */
	{ { "msmtp", "a@x", "-f", "evil", NULL },
	  "recipient '-f' starts with '-'" },
	{ { "msmtp", "a@x", "-X/var/www/shell.php", NULL },
	  "recipient '-X/var/www/shell.php' starts with '-'" },
	{ { "msmtp", "a@x", "--", "b@y", NULL },
	  "recipient '--' starts with '-'" },
	{ { "msmtp", "a@x", "-", NULL }, "recipient '-' starts with '-'" },
	{ { "msmtp", "--", "-x", NULL }, "recipient '-x' starts with '-'" },
	{ { "msmtp", "-i", "--", "a@x", "-oQ/tmp", NULL },
	  "recipient '-oQ/tmp' starts with '-'" },

	/* line breaks: command and header injection */
	{ { "msmtp", "-f", "a@x\r\nRCPT TO:<evil>", NULL },
	  "envelope from address 'a@x\\x0d\\x0aRCPT TO:<evil>' contains a "
	  "line break" },
	{ { "msmtp", "-fa@x\n", NULL },
	  "envelope from address 'a@x\\x0a' contains a line break" },
	{ { "msmtp", "--from=a@x\rb", NULL },
	  "envelope from address 'a@x\\x0db' contains a line break" },
	{ { "msmtp", "-F", "Jo\nBcc: evil@x", NULL },
	  "full name 'Jo\\x0aBcc: evil@x' contains a line break" },
	{ { "msmtp", "a@x\r\nDATA", NULL },
	  "recipient 'a@x\\x0d\\x0aDATA' contains a line break" },
	{ { "msmtp", "--", "b@y", "a@x\n", NULL },
	  "recipient 'a@x\\x0a' contains a line break" },

	/* combinations */
	{ { "msmtp", "--host=h", "-a", "acc", NULL },
	  "options --host and -a/--account cannot be used together" },
	{ { "msmtp", "--account=acc", "--host", "h", NULL },
	  "options --host and -a/--account cannot be used together" },
	{ { "msmtp", "-f", "a@x", "--read-envelope-from", NULL },
	  "options -f/--from and --read-envelope-from cannot be used "
	  "together" },
	{ { "msmtp", "--read-envelope-from", "--from=a@x", NULL },
	  "options -f/--from and --read-envelope-from cannot be used "
	  "together" },
	{ { "msmtp", "-S", "a@x", NULL }, "too many arguments" },
	{ { "msmtp", "--serverinfo", "--", "a@x", NULL },
	  "too many arguments" },
	{ { "msmtp", "-P", "-S", NULL },
	  "options -P/--pretend and -S/--serverinfo cannot be used together" },

	/* a separate value of an optional-value option would be a recipient */
	{ { "msmtp", "--tls", "on", NULL },
	  "option --tls takes its value as --tls=on (a separate 'on' would be "
	  "a recipient)" },
	{ { "msmtp", "--tls-starttls", "off", "a@x", NULL },
	  "option --tls-starttls takes its value as --tls-starttls=off (a "
	  "separate 'off' would be a recipient)" },
	{ { "msmtp", "--auth", "plain", NULL },
	  "option --auth takes its value as --auth=plain (a separate 'plain' "
	  "would be a recipient)" },
	{ { "msmtp", "--auth", "SCRAM-SHA-256", NULL },
	  "option --auth takes its value as --auth=SCRAM-SHA-256 (a separate "
	  "'SCRAM-SHA-256' would be a recipient)" },
	{ { "msmtp", "--syslog", "LOG_MAIL", NULL },
	  "option --syslog takes its value as --syslog=LOG_MAIL (a separate "
	  "'LOG_MAIL' would be a recipient)" },
	{ { "msmtp", "--set-date-header", "auto", NULL },
	  "option --set-date-header takes its value as --set-date-header=auto "
	  "(a separate 'auto' would be a recipient)" },
	{ { "msmtp", "--set-to-header", "undisclosed_recipients", NULL },
	  "option --set-to-header takes its value as "
	  "--set-to-header=undisclosed_recipients (a separate "
	  "'undisclosed_recipients' would be a recipient)" },
	{ { "msmtp", "--remove-bcc-headers", "off", NULL },
	  "option --remove-bcc-headers takes its value as "
	  "--remove-bcc-headers=off (a separate 'off' would be a recipient)" },
	{ { "msmtp", "--debug", "on", NULL },
	  "option --debug takes its value as --debug=on (a separate 'on' "
	  "would be a recipient)" },
	{ { "msmtp", "-d", "0.1", NULL },
	  "option -d takes its value as -d0.1 (a separate '0.1' would be a "
	  "recipient)" },

	/* values of msmtprc-command options: the config file's validator,
	 * applied while parsing, so the error is a usage error */
	{ { "msmtp", "--port=99999", "a@x", NULL },
	  "--port=99999: invalid argument 99999 for command port" },
	{ { "msmtp", "--port", "0", NULL },
	  "--port=0: invalid argument 0 for command port" },
	{ { "msmtp", "--port=25x", NULL },
	  "--port=25x: invalid argument 25x for command port" },
	{ { "msmtp", "--proxy-port=65536", NULL },
	  "--proxy-port=65536: invalid argument 65536 for command proxy_port" },
	{ { "msmtp", "--ip-family=ipv5", NULL },
	  "--ip-family=ipv5: invalid argument ipv5 for command ip_family" },
	{ { "msmtp", "--timeout=abc", NULL },
	  "--timeout=abc: invalid argument abc for command timeout" },
	{ { "msmtp", "--connect-timeout=-5", NULL },
	  "--connect-timeout=-5: invalid argument -5 for command timeout" },
	{ { "msmtp", "--tls=maybe", NULL },
	  "--tls=maybe: invalid argument maybe for command tls" },
	{ { "msmtp", "--tls-starttls=yes", NULL },
	  "--tls-starttls=yes: invalid argument yes for command tls_starttls" },
	{ { "msmtp", "--tls-certcheck=ON", NULL },
	  "--tls-certcheck=ON: invalid argument ON for command tls_certcheck" },
	{ { "msmtp", "--tls-fingerprint=AB:CD", NULL },
	  "--tls-fingerprint=AB:CD: invalid argument AB:CD for command "
	  "tls_fingerprint" },
	{ { "msmtp", "--tls-min-dh-prime-bits=lots", NULL },
	  "--tls-min-dh-prime-bits=lots: invalid argument lots for command "
	  "tls_min_dh_prime_bits" },
	{ { "msmtp", "--protocol=http", NULL },
	  "--protocol=http: invalid argument http for command protocol" },
	{ { "msmtp", "--protocol=", NULL },
	  "--protocol=: command protocol needs an argument" },
	{ { "msmtp", "--auth=rot13", NULL },
	  "--auth=rot13: invalid argument rot13 for command auth" },
	{ { "msmtp", "--syslog=LOG_KERNEL", NULL },
	  "--syslog=LOG_KERNEL: invalid argument LOG_KERNEL for command "
	  "syslog" },
	{ { "msmtp", "--dsn-notify=sometimes", NULL },
	  "--dsn-notify=sometimes: invalid argument sometimes for command "
	  "dsn_notify" },
	{ { "sendmail", "-N", "bogus", "a@x", NULL },
	  "-N bogus: invalid argument bogus for command dsn_notify" },
	{ { "sendmail", "-Rall", NULL },
	  "-R all: invalid argument all for command dsn_return" },
	{ { "msmtp", "--dsn-return=body", NULL },
	  "--dsn-return=body: invalid argument body for command dsn_return" },
	{ { "msmtp", "--set-from-header=maybe", NULL },
	  "--set-from-header=maybe: invalid argument maybe for command "
	  "set_from_header" },
	{ { "msmtp", "--set-date-header=on", NULL },
	  "--set-date-header=on: invalid argument on for command "
	  "set_date_header" },
	{ { "msmtp", "--set-msgid-header=yes", NULL },
	  "--set-msgid-header=yes: invalid argument yes for command "
	  "set_msgid_header" },
	{ { "msmtp", "--set-to-header=all", NULL },
	  "--set-to-header=all: invalid argument all for command "
	  "set_to_header" },
	{ { "msmtp", "--remove-bcc-headers=1", NULL },
	  "--remove-bcc-headers=1: invalid argument 1 for command "
	  "remove_bcc_headers" },
	{ { "msmtp", "--partial-delivery=x", NULL },
	  "--partial-delivery=x: invalid argument x for command "
	  "partial_delivery" },
	{ { "msmtp", "--allow-from-override=x", NULL },
	  "--allow-from-override=x: invalid argument x for command "
	  "allow_from_override" },
	{ { "msmtp", "--keepbcc=x", NULL },
	  "--keepbcc=x: invalid argument x for command keepbcc" },
	{ { "msmtp", "--add-missing-from-header=x", NULL },
	  "--add-missing-from-header=x: invalid argument x for command "
	  "add_missing_from_header" },
	{ { "msmtp", "--auto-from=x", NULL },
	  "--auto-from=x: invalid argument x for command auto_from" },
	{ { "msmtp", "--maildomain=a b", NULL },
	  "--maildomain=a b: invalid argument a b for command maildomain" },
	{ { "msmtp", "--host=h", "--port=25", "--tls=on", "--timeout=0", NULL },
	  "--timeout=0: invalid argument 0 for command timeout" },
	/* the first bad value is the one reported */
	{ { "msmtp", "--tls=x", "--port=0", NULL },
	  "--tls=x: invalid argument x for command tls" },
	/* a value with control bytes or longer than 64 bytes is shown
	 * escaped and cut, never raw */
	{ { "msmtp", "--tls=\x1b[2J", NULL },
	  "--tls=\\x1b[2J: invalid value for command tls" },
	{ { "msmtp", "--domain=a\rb", NULL },
	  "--domain=a\\x0db: invalid value for command domain" },
	{ { "msmtp", "--port=1234567890123456789012345678901234567890"
	    "123456789012345678901234567890", NULL },
	  "--port=123456789012345678901234567890123456789012345678901234567890"
	  "1234...: invalid value for command port" },
	/* a passwordeval command may hold the secret: never echoed */
	{ { "msmtp", "--passwordeval=echo s3cret\nx", NULL },
	  "--passwordeval: invalid value for command passwordeval" },
};

static void check_bad_case(const struct bad_case *c)
{
	struct args a;
	struct opts o;
	struct err e;

	args_make(&a, c->argv);
	err_init(&e);
	cli_opts_init(&o);
	if (cli_parse(a.argc, a.argv, &o, &e) != -1)
		fail_msg("accepted, want error: %s", c->msg);
	assert_int_equal(e.code, ERR_USAGE);
	assert_string_equal(e.msg, c->msg);
	assert_null(strchr(e.msg, '\n'));
	/* nothing is left to free after a failure */
	assert_null(o.settings);
	assert_int_equal(o.nsettings, 0);
	assert_int_equal(o.nrecipients, 0);
	cli_opts_free(&o);
	args_free(&a);
}

static void test_bad_cases(void **state)
{
	size_t k;

	for (k = 0; k < sizeof bad_cases / sizeof bad_cases[0]; k++)
		check_bad_case(&bad_cases[k]);
}

/* ------------------------------------------------------------------ */
/* ownership and pointers */

/* Values given in argv are used in place; built-in values are owned. */
static void test_setting_ownership(void **state)
{
	const char *words[] = { "msmtp", "--tls=on", "--tls", "--host", "h",
				"a@x", NULL };
	struct args a;
	struct opts o;
	struct err e;

	args_make(&a, words);
	err_init(&e);
	assert_int_equal(cli_parse(a.argc, a.argv, &o, &e), 0);
	assert_int_equal(o.nsettings, 3);
	assert_ptr_equal(o.settings[0].arg, a.argv[1] + strlen("--tls="));
	assert_int_equal(o.settings[0].owned, 0);
	assert_int_equal(o.settings[1].owned, 1);
	assert_string_equal(o.settings[1].arg, "on");
	assert_ptr_equal(o.settings[2].arg, a.argv[4]);
	assert_int_equal(o.settings[2].owned, 0);
	assert_ptr_equal(o.recipients, &a.argv[5]);
	cli_opts_free(&o);
	assert_null(o.settings);
	assert_int_equal(o.nsettings, 0);
	/* freeing twice is harmless */
	cli_opts_free(&o);
	args_free(&a);
}

/* -X's value is consumed and appears nowhere in the result. */
static void test_traffic_log_never_used(void **state)
{
	const char *words[] = { "sendmail", "-t", "-i", "-X",
				"/var/www/shell.php", "-f", "a@x", NULL };
	struct args a;
	struct opts o;
	struct err e;

	args_make(&a, words);
	err_init(&e);
	assert_int_equal(cli_parse(a.argc, a.argv, &o, &e), 0);
	assert_int_equal(o.nsettings, 0);
	assert_int_equal(o.nrecipients, 0);
	assert_null(o.conf_file);
	assert_string_equal(o.from, "a@x");
	cli_opts_free(&o);
	args_free(&a);
}

static void test_many_settings(void **state)
{
	char *argv[202];
	char word[] = "--port=25";
	struct opts o;
	struct err e;
	int k;

	argv[0] = "msmtp";
	for (k = 1; k < 201; k++)
		argv[k] = k % 2 ? word : "--tls";
	argv[201] = NULL;
	err_init(&e);
	assert_int_equal(cli_parse(201, argv, &o, &e), 0);
	assert_int_equal(o.nsettings, 200);
	assert_string_equal(o.settings[199].cmd, "tls");
	assert_string_equal(o.settings[198].arg, "25");
	cli_opts_free(&o);
}

static void test_no_argv0(void **state)
{
	char *argv[] = { NULL };
	struct opts o;
	struct err e;

	err_init(&e);
	assert_int_equal(cli_parse(0, argv, &o, &e), -1);
	assert_int_equal(e.code, ERR_USAGE);
	cli_opts_free(&o);
}

/* A long hostile word is cut short in the message. */
static void test_long_word_truncated(void **state)
{
	char big[300];
	char *argv[3];
	struct opts o;
	struct err e;

	memset(big, 'A', sizeof big - 1);
	big[0] = '-';
	big[1] = '-';
	big[sizeof big - 1] = '\0';
	argv[0] = "msmtp";
	argv[1] = big;
	argv[2] = NULL;
	err_init(&e);
	assert_int_equal(cli_parse(2, argv, &o, &e), -1);
	assert_true(strlen(e.msg) < 100);
	assert_non_null(strstr(e.msg, "..."));
	cli_opts_free(&o);
}

/* ------------------------------------------------------------------ */
/* texts */

static void test_help_mentions_every_option(void **state)
{
	static const char *const needles[] = {
		"--version", "--help", "-P, --pretend", "-d, -v, --debug",
		"-d0.1", "-S, --serverinfo", "-C, --file", "-a, --account",
		"--host", "--port", "--timeout", "--connect-timeout",
		"--protocol", "--domain", "--auth", "--user", "--passwordeval",
		"--source-ip", "--proxy-host", "--proxy-port", "--socket",
		"--ip-family", "--tls[", "--tls-starttls", "--tls-trust-file",
		"--tls-crl-file", "--tls-fingerprint", "--tls-key-file",
		"--tls-cert-file", "--tls-certcheck", "--tls-priorities",
		"--tls-host-override", "--tls-min-dh-prime-bits",
		"--tls-force-sslv3", "--logfile", "--logfile-time-format",
		"--syslog", "--aliases", "--set-from-header",
		"--set-date-header", "--set-msgid-header", "--set-to-header",
		"--remove-bcc-headers", "--dsn-notify", "--dsn-return",
		"--partial-delivery", "--chunking", "--from-full-name",
		"--allow-from-override", "--undisclosed-recipients",
		"--add-missing-from-header", "--add-missing-date-header",
		"--keepbcc", "--auto-from", "--maildomain", "-f, -r, --from",
		"-F name", "-t, --read-recipients", "--read-envelope-from",
		"-i, -oi", "-N, --dsn-notify", "-R, --dsn-return",
		"-X file", "-B type", "-V envid", "-o option", "-O option=value",
		"-A file", "-h hops", "-L tag", "-G, -m, -n, -U", "-bm",
		"-X never selects a log file", "-bp", "-q", "--configure",
		"--queue-run", "--queue-remove", "--queue-retry", "mailq", "-odq",
		"--rmqs", "msmtp [option...]", "--json",
	};
	const char *help = cli_help_text();
	size_t k;

	assert_non_null(help);
	for (k = 0; k < sizeof needles / sizeof needles[0]; k++) {
		if (strstr(help, needles[k]) == NULL)
			fail_msg("help text lacks '%s'", needles[k]);
	}
}

static void test_usage_hint(void **state)
{
	assert_string_equal(cli_usage_hint(),
	    "Try 'msmtp --help' for more information.");
}

struct queue_case {
	const char *argv[6];
	enum cli_mode mode;
	const char *id, *rcpt, *sender;
	int delivery;
};

static const struct queue_case queue_cases[] = {
	{ { "msmtp", "-q", NULL }, CLI_MODE_QUEUE_FLUSH, NULL, NULL, NULL, 0 },
	{ { "sendmail", "-q", NULL }, CLI_MODE_QUEUE_FLUSH, NULL, NULL, NULL, 0 },
	{ { "msmtp", "--flush", NULL }, CLI_MODE_QUEUE_FLUSH, NULL, NULL, NULL, 0 },
	{ { "msmtp", "-qRexample.com", NULL }, CLI_MODE_QUEUE_FLUSH, NULL,
	  "example.com", NULL, 0 },
	{ { "msmtp", "-qSroot", NULL }, CLI_MODE_QUEUE_FLUSH, NULL, NULL,
	  "root", 0 },
	{ { "msmtp", "-qIabc", NULL }, CLI_MODE_QUEUE_FLUSH, "abc", NULL, NULL, 0 },
	{ { "msmtp", "-tq", NULL }, CLI_MODE_QUEUE_FLUSH, NULL, NULL, NULL, 0 },
	{ { "msmtp", "--queue-run", NULL }, CLI_MODE_QUEUE_RUN, NULL, NULL, NULL, 0 },
	{ { "msmtp", "-bp", NULL }, CLI_MODE_QUEUE_LIST, NULL, NULL, NULL, 0 },
	{ { "msmtp", "-b", "p", NULL }, CLI_MODE_QUEUE_LIST, NULL, NULL, NULL, 0 },
	{ { "/usr/bin/mailq", NULL }, CLI_MODE_QUEUE_LIST, NULL, NULL, NULL, 0 },
	{ { "msmtp", "--queue-remove=x1", NULL }, CLI_MODE_QUEUE_REMOVE, "x1",
	  NULL, NULL, 0 },
	{ { "msmtp", "--queue-retry", "x2", NULL }, CLI_MODE_QUEUE_RETRY, "x2",
	  NULL, NULL, 0 },
	{ { "sendmail", "-odq", "a@b", NULL }, CLI_MODE_SEND, NULL, NULL, NULL, 'q' },
	{ { "sendmail", "-o", "db", "a@b", NULL }, CLI_MODE_SEND, NULL, NULL, NULL,
	  'b' },
	{ { "sendmail", "-odi", "a@b", NULL }, CLI_MODE_SEND, NULL, NULL, NULL, 'i' },
	{ { "sendmail", "-oem", "a@b", NULL }, CLI_MODE_SEND, NULL, NULL, NULL, 0 },
};

static void test_queue_modes(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof queue_cases / sizeof queue_cases[0]; i++) {
		const struct queue_case *c = &queue_cases[i];
		struct opts o;
		struct err e;
		int argc = 0;

		while (c->argv[argc])
			argc++;
		err_init(&e);
		if (cli_parse(argc, (char **)c->argv, &o, &e) < 0)
			fail_msg("queue case %zu: %s", i, e.msg);
		assert_int_equal(o.mode, c->mode);
		if (c->id)
			assert_string_equal(o.queue_id, c->id);
		else
			assert_null(o.queue_id);
		if (c->rcpt)
			assert_string_equal(o.queue_rcpt, c->rcpt);
		if (c->sender)
			assert_string_equal(o.queue_sender, c->sender);
		assert_int_equal(o.delivery_mode, c->delivery);
		cli_opts_free(&o);
	}
}

/* --json with the queue listing sets o.json; without it, json is 0;
 * --help and --version still win. */
static void test_json(void **state)
{
	static const struct {
		const char *argv[MAX_ARGS + 1];
		enum cli_mode mode;
		int json;
	} cases[] = {
		{ { "mailq", "--json", NULL }, CLI_MODE_QUEUE_LIST, 1 },
		{ { "/usr/bin/mailq", NULL }, CLI_MODE_QUEUE_LIST, 0 },
		{ { "msmtp", "-bp", "--json", NULL }, CLI_MODE_QUEUE_LIST, 1 },
		{ { "sendmail", "--json", "-bp", NULL }, CLI_MODE_QUEUE_LIST, 1 },
		{ { "msmtp", "--json", "--help", NULL }, CLI_MODE_HELP, 1 },
		{ { "msmtp", "--json", "--version", NULL }, CLI_MODE_VERSION, 1 },
	};
	struct args a;
	struct opts o;
	struct err e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		args_make(&a, cases[i].argv);
		err_init(&e);
		if (cli_parse(a.argc, a.argv, &o, &e) < 0)
			fail_msg("case %zu: %s", i, e.msg);
		if (o.mode != cases[i].mode || o.json != cases[i].json)
			fail_msg("case %zu: mode %d json %d", i, (int)o.mode,
				 o.json);
		cli_opts_free(&o);
		args_free(&a);
	}
}

/* Invoked as newaliases, or with -bi, there is nothing to do: a mode
 * of its own that main() ends before loading any configuration.  The
 * usual options are still parsed (package scripts may pass -oA...), and
 * --help/--version still win. */
static void test_newaliases(void **state)
{
	static const struct {
		const char *argv[MAX_ARGS + 1];
		enum cli_mode mode;
	} cases[] = {
		{ { "newaliases", NULL }, CLI_MODE_NEWALIASES },
		{ { "/usr/bin/newaliases", NULL }, CLI_MODE_NEWALIASES },
		{ { "/usr/sbin/sendmail", "-bi", NULL }, CLI_MODE_NEWALIASES },
		{ { "msmtp", "-bi", NULL }, CLI_MODE_NEWALIASES },
		{ { "sendmail", "-b", "i", NULL }, CLI_MODE_NEWALIASES },
		{ { "newaliases", "-oA/etc/aliases", "-v", NULL },
		  CLI_MODE_NEWALIASES },
		{ { "sendmail", "-bi", "-bi", NULL }, CLI_MODE_NEWALIASES },
		{ { "newaliases", "--help", NULL }, CLI_MODE_HELP },
		{ { "sendmail", "-bi", "--version", NULL }, CLI_MODE_VERSION },
		{ { "newaliases.sh", NULL }, CLI_MODE_SEND },
		/* -bs is a mode of its own, -i and -oi with it are harmless */
		{ { "sendmail", "-bs", NULL }, CLI_MODE_SMTP_SESSION },
		{ { "sendmail", "-bs", "-i", NULL }, CLI_MODE_SMTP_SESSION },
		{ { "msmtp", "-b", "s", "-oi", NULL }, CLI_MODE_SMTP_SESSION },
	};
	struct args a;
	struct opts o;
	struct err e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		args_make(&a, cases[i].argv);
		err_init(&e);
		if (cli_parse(a.argc, a.argv, &o, &e) < 0)
			fail_msg("case %zu: %s", i, e.msg);
		if (o.mode != cases[i].mode)
			fail_msg("case %zu: mode %d", i, (int)o.mode);
		cli_opts_free(&o);
		args_free(&a);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_modes),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_newaliases),
		cmocka_unit_test(test_ok_cases),
		cmocka_unit_test(test_bad_cases),
		cmocka_unit_test(test_setting_ownership),
		cmocka_unit_test(test_traffic_log_never_used),
		cmocka_unit_test(test_many_settings),
		cmocka_unit_test(test_no_argv0),
		cmocka_unit_test(test_long_word_truncated),
		cmocka_unit_test(test_help_mentions_every_option),
		cmocka_unit_test(test_usage_hint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
