/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "cli.h"
#include "buf.h"
#include "conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


enum cli_arg {
	ARG_NONE,               /* no value */
	ARG_REQUIRED,           /* value glued or in the next word */
	ARG_OPTIONAL            /* long: only "=value"; short: only glued */
};

enum cli_action {
	ACT_VERSION,
	ACT_HELP,
	ACT_PRETEND,
	ACT_SERVERINFO,
	ACT_DEBUG,
	ACT_FILE,
	ACT_ACCOUNT,
	ACT_HOST,
	ACT_SETTING,            /* record (cmd, value) for conf_account_set */
	ACT_FROM,
	ACT_FULL_NAME,
	ACT_READ_RECIPIENTS,
	ACT_READ_ENVELOPE_FROM,
	ACT_IGNORE_DOTS,
	ACT_IGNORED,            /* sendmail compatibility: value dropped */
	ACT_SENDMAIL_OPTION,    /* -oX: only -oi means something */
	ACT_OPERATION_MODE,     /* -bX: -bm, -bp and -bi are accepted */
	ACT_QUEUE,              /* -q[R|S|I...]: flush the queue */
	ACT_QUEUE_RUN,          /* --queue-run */
	ACT_QUEUE_REMOVE,       /* --queue-remove=ID */
	ACT_QUEUE_RETRY,        /* --queue-retry=ID */
	ACT_OAUTH2,             /* --oauth2-login, --oauth2-status */
	ACT_JSON,               /* --json: mailq as JSON lines */
	ACT_RMQS,               /* --rmqs=ARG: ETRN */
	ACT_CONFIGURE,          /* --configure=ADDRESS */
	ACT_UNSUPPORTED         /* an option not supported yet */
};

struct long_opt {
	const char *name;
	enum cli_arg arg;
	enum cli_action act;
	const char *cmd;        /* msmtprc command for ACT_SETTING */
	const char *bare;       /* value when given without one */
	const char *const *words; /* option-specific values (optional args) */
};

struct short_opt {
	char letter;
	enum cli_arg arg;
	enum cli_action act;
	/* msmtprc command for ACT_SETTING, or "".  An array, not a pointer:
	 * a table without pointers needs no relocation, so it stays in
	 * .rodata and the relocated data of the binary fits in two pages
	 * (each is a copy-on-write page fault at every start). */
	char cmd[12];
};

/* Parser state for one cli_parse() call. */
struct parser {
	int argc;
	char **argv;
	int i;                  /* index of the word being parsed */
	struct opts *o;
	struct err *e;
	int want_help;
	int want_version;
	int want_pretend;
	int want_serverinfo;
	int want_queue;         /* a CLI_MODE_QUEUE_* or 0 */
	int want_newaliases;    /* -bi or invoked as newaliases */
	int want_oauth2;        /* CLI_MODE_OAUTH2_* or 0 */
	int want_bs;            /* -bs: an SMTP session on stdin/stdout */
	int want_verify;        /* -bv: verify the recipients */
	int want_rmqs;          /* --rmqs: ETRN */
	int want_configure;     /* --configure: find an address's server */
	struct account *scratch; /* settings are tried on it as they come */
};

/* Words that are values of every optional-argument long option (or close
 * enough that taking them as a recipient would surprise the user). */
static const char *const common_words[] = { "on", "off", "auto", NULL };

static const char *const auth_words[] = {
	"scram-sha-256-plus", "scram-sha-1-plus", "scram-sha-256",
	"scram-sha-1", "plain", "gssapi", "external", "oauthbearer",
	"cram-md5", "digest-md5", "login", "ntlm", "xoauth2", NULL
};

static const char *const syslog_words[] = {
	"LOG_USER", "LOG_MAIL", "LOG_LOCAL0", "LOG_LOCAL1", "LOG_LOCAL2",
	"LOG_LOCAL3", "LOG_LOCAL4", "LOG_LOCAL5", "LOG_LOCAL6", "LOG_LOCAL7",
	NULL
};

static const char *const to_header_words[] = {
	"undisclosed_recipients", NULL
};

#define LONG_NONE(n, a) { n, ARG_NONE, a, NULL, NULL, NULL }
#define LONG_REQ(n, a) { n, ARG_REQUIRED, a, NULL, NULL, NULL }
#define LONG_SET(n, c) { n, ARG_REQUIRED, ACT_SETTING, c, NULL, NULL }
#define LONG_OPT(n, c, b, w) { n, ARG_OPTIONAL, ACT_SETTING, c, b, w }

static const struct long_opt long_opts[] = {
	LONG_NONE("version", ACT_VERSION),
	LONG_NONE("help", ACT_HELP),
	LONG_NONE("pretend", ACT_PRETEND),
	LONG_NONE("serverinfo", ACT_SERVERINFO),
	{ "debug", ARG_OPTIONAL, ACT_DEBUG, NULL, NULL, NULL },
	LONG_REQ("file", ACT_FILE),
	LONG_REQ("account", ACT_ACCOUNT),
	LONG_REQ("host", ACT_HOST),
	LONG_REQ("from", ACT_FROM),
	LONG_NONE("read-recipients", ACT_READ_RECIPIENTS),
	LONG_NONE("read-envelope-from", ACT_READ_ENVELOPE_FROM),
	LONG_NONE("flush", ACT_QUEUE),
	LONG_NONE("queue-run", ACT_QUEUE_RUN),
	LONG_REQ("queue-remove", ACT_QUEUE_REMOVE),
	LONG_REQ("queue-retry", ACT_QUEUE_RETRY),
	LONG_NONE("oauth2-login", ACT_OAUTH2),
	LONG_NONE("oauth2-status", ACT_OAUTH2),
	LONG_NONE("json", ACT_JSON),
	LONG_REQ("configure", ACT_CONFIGURE),
	LONG_REQ("rmqs", ACT_RMQS),
	LONG_SET("port", "port"),
	LONG_SET("timeout", "timeout"),
	LONG_SET("connect-timeout", "timeout"),
	LONG_SET("protocol", "protocol"),
	LONG_SET("domain", "domain"),
	LONG_OPT("auth", "auth", "on", auth_words),
	LONG_SET("user", "user"),
	LONG_SET("passwordeval", "passwordeval"),
	LONG_SET("source-ip", "source_ip"),
	LONG_SET("proxy-host", "proxy_host"),
	LONG_SET("proxy-port", "proxy_port"),
	LONG_SET("socket", "socket"),
	LONG_SET("ip-family", "ip_family"),
	LONG_OPT("tls", "tls", "on", NULL),
	LONG_OPT("tls-starttls", "tls_starttls", "on", NULL),
	LONG_SET("tls-trust-file", "tls_trust_file"),
	LONG_SET("tls-crl-file", "tls_crl_file"),
	LONG_SET("tls-fingerprint", "tls_fingerprint"),
	LONG_SET("tls-key-file", "tls_key_file"),
	LONG_SET("tls-cert-file", "tls_cert_file"),
	LONG_OPT("tls-certcheck", "tls_certcheck", "on", NULL),
	LONG_SET("tls-priorities", "tls_priorities"),
	LONG_SET("tls-host-override", "tls_host_override"),
	LONG_SET("tls-min-dh-prime-bits", "tls_min_dh_prime_bits"),
	{ "tls-force-sslv3", ARG_NONE, ACT_SETTING, "tls_force_sslv3", "on",
	  NULL },
	LONG_SET("logfile", "logfile"),
	LONG_SET("logfile-time-format", "logfile_time_format"),
	LONG_OPT("syslog", "syslog", "on", syslog_words),
	LONG_SET("aliases", "aliases"),
	LONG_OPT("set-from-header", "set_from_header", "on", NULL),
	LONG_OPT("set-date-header", "set_date_header", "auto", NULL),
	LONG_OPT("set-msgid-header", "set_msgid_header", "auto", NULL),
	LONG_OPT("set-to-header", "set_to_header", "on", to_header_words),
	LONG_OPT("remove-bcc-headers", "remove_bcc_headers", "on", NULL),
	LONG_SET("dsn-notify", "dsn_notify"),
	LONG_SET("dsn-return", "dsn_return"),
	LONG_OPT("partial-delivery", "partial_delivery", "on", NULL),
	LONG_OPT("chunking", "chunking", "on", NULL),
	LONG_SET("from-full-name", "from_full_name"),
	LONG_OPT("allow-from-override", "allow_from_override", "on", NULL),
	/* legacy spellings, mapped by conf to their modern meaning */
	{ "undisclosed-recipients", ARG_NONE, ACT_SETTING, "set_to_header",
	  "undisclosed_recipients", NULL },
	LONG_OPT("add-missing-from-header", "add_missing_from_header", "on",
		 NULL),
	LONG_OPT("add-missing-date-header", "add_missing_date_header", "on",
		 NULL),
	LONG_OPT("keepbcc", "keepbcc", "on", NULL),
	LONG_OPT("auto-from", "auto_from", "on", NULL),
	LONG_SET("maildomain", "maildomain"),
};

/*
 * Short options, msmtp's own and sendmail's.  -d takes an optional value
 * glued to it ("-d0.1"); every other value may be glued or separate.  -X is
 * deliberately ignored: sendmail's traffic log lets a PHP mail() caller
 * write any file (CVE-2016-10033), so it must never name a log file.
 */
static const struct short_opt short_opts[] = {
	{ 'P', ARG_NONE, ACT_PRETEND, "" },
	{ 'S', ARG_NONE, ACT_SERVERINFO, "" },
	{ 'd', ARG_OPTIONAL, ACT_DEBUG, "" },
	{ 'v', ARG_NONE, ACT_DEBUG, "" },
	{ 'C', ARG_REQUIRED, ACT_FILE, "" },
	{ 'a', ARG_REQUIRED, ACT_ACCOUNT, "" },
	{ 'f', ARG_REQUIRED, ACT_FROM, "" },
	{ 'r', ARG_REQUIRED, ACT_FROM, "" },
	{ 'F', ARG_REQUIRED, ACT_FULL_NAME, "" },
	{ 't', ARG_NONE, ACT_READ_RECIPIENTS, "" },
	{ 'i', ARG_NONE, ACT_IGNORE_DOTS, "" },
	{ 'N', ARG_REQUIRED, ACT_SETTING, "dsn_notify" },
	{ 'R', ARG_REQUIRED, ACT_SETTING, "dsn_return" },
	{ 'o', ARG_REQUIRED, ACT_SENDMAIL_OPTION, "" },
	{ 'b', ARG_REQUIRED, ACT_OPERATION_MODE, "" },
	{ 'q', ARG_OPTIONAL, ACT_QUEUE, "" },
	{ 'V', ARG_REQUIRED, ACT_IGNORED, "" },
	{ 'X', ARG_REQUIRED, ACT_IGNORED, "" },
	{ 'B', ARG_REQUIRED, ACT_IGNORED, "" },
	{ 'O', ARG_REQUIRED, ACT_IGNORED, "" },
	{ 'A', ARG_REQUIRED, ACT_IGNORED, "" },
	{ 'h', ARG_REQUIRED, ACT_IGNORED, "" },
	{ 'L', ARG_REQUIRED, ACT_IGNORED, "" },
	{ 'G', ARG_NONE, ACT_IGNORED, "" },
	{ 'm', ARG_NONE, ACT_IGNORED, "" },
	{ 'n', ARG_NONE, ACT_IGNORED, "" },
	{ 'U', ARG_NONE, ACT_IGNORED, "" },
};

static const char help_text[] =
"Usage:\n"
"\n"
"Sendmail mode (default):\n"
"  msmtp [option...] [--] recipient...\n"
"  msmtp [option...] -t [--] [recipient...]\n"
"  Read a mail from standard input and transmit it to an SMTP or LMTP\n"
"  server.  Options end at the first recipient or at \"--\"; a later word\n"
"  starting with '-' is refused, never taken as an option.\n"
"Server information mode:\n"
"  msmtp [option...] --serverinfo\n"
"  Print information about a mail server.\n"
"Queue modes (accounts with 'queue tempfail' or 'queue always'):\n"
"  msmtp -q | --flush [-qRstring] [-qSstring] [-qIid]\n"
"                               try every queued mail now\n"
"  msmtp --queue-run            try the queued mails that are due (for a\n"
"                               timer or cron)\n"
"  msmtp -bp | mailq            list the queue\n"
"  msmtp -bp --json | mailq --json\n"
"                               the same, one JSON object per line\n"
"  msmtp --queue-remove=ID      delete a queued mail\n"
"  msmtp --queue-retry=ID       make a queued mail due now\n"
"OAuth2 modes (accounts with oauth2_provider):\n"
"  msmtp [-a account] --oauth2-login\n"
"                               sign in once; the tokens are stored and\n"
"                               refreshed by every send\n"
"  msmtp [-a account] --oauth2-status\n"
"                               whether there is a login, when the access\n"
"                               token expires (never a token)\n"
"SMTP session mode (for programs that speak SMTP to sendmail):\n"
"  msmtp -bs                    read SMTP commands on standard input, answer\n"
"                               on standard output; each message is sent\n"
"                               (or queued) like a normal one\n"
"Remote queue mode:\n"
"  msmtp [option...] --rmqs=(host|@domain|#queue)\n"
"                               ask the server to send its queued mail\n"
"                               for this node (ETRN)\n"
"Address verification mode:\n"
"  msmtp -bv recipient...       say how each recipient would be sent (the\n"
"                               account, aliases, the address checks);\n"
"                               nothing is read or sent\n"
"Configuration mode:\n"
"  msmtp --configure=address    find the address's submission server (DNS\n"
"                               SRV, autoconfig, ISP database, MX, presets)\n"
"                               and print an account block for it\n"
"Alias database mode:\n"
"  msmtp -bi | newaliases       do nothing and exit 0 (there is no alias\n"
"                               database to build; for package scripts)\n"
"\n"
"Options:\n"
"\n"
"General options:\n"
"  --version                    print version\n"
"  --help                       print help\n"
"  -P, --pretend                print the configuration and exit\n"
"  -d, -v, --debug              print debugging information (the SMTP\n"
"                               dialogue) on standard output; -d0.1 also\n"
"                               prints the version\n"
"Changing the mode of operation:\n"
"  -S, --serverinfo             print information about the mail server\n"
"Configuration options:\n"
"  -C, --file=filename          use this user configuration file\n"
"  -a, --account=id             use this account instead of \"default\";\n"
"                               its settings may be changed with the\n"
"                               options below\n"
"  --host=hostname              use this server and only command line\n"
"                               settings; no configuration file is read\n"
"  --port=number                set the port number\n"
"  --source-ip=[IP]             bind the connection to this address\n"
"  --proxy-host=[IP|hostname]   use this SOCKS proxy\n"
"  --proxy-port=[number]        set the SOCKS proxy port number\n"
"  --socket=[socketname]        connect to a local Unix domain socket\n"
"  --ip-family=(any|ipv4|ipv6)  use only IPv4 or only IPv6 addresses\n"
"  --timeout=(off|seconds)      set or unset the network timeout\n"
"  --connect-timeout=...        the same as --timeout\n"
"  --protocol=(smtp|lmtp)       use this protocol\n"
"  --domain=string              argument of EHLO or LHLO\n"
"  --auth[=(on|off|method)]     enable or disable authentication and\n"
"                               optionally choose the method\n"
"  --user=[username]            set or unset the user name\n"
"  --passwordeval=[eval]        get the password from this command\n"
"  --tls[=(on|off)]             enable or disable TLS\n"
"  --tls-starttls[=(on|off)]    use STARTTLS (on) or TLS from the start\n"
"  --tls-trust-file=[file]      trust these CA certificates\n"
"  --tls-crl-file=[file]        check this certificate revocation list\n"
"  --tls-fingerprint=[f]        trust the server certificate with this\n"
"                               fingerprint\n"
"  --tls-key-file=[file]        client key (with --tls-cert-file)\n"
"  --tls-cert-file=[file]       client certificate\n"
"  --tls-certcheck[=(on|off)]   enable or disable server certificate\n"
"                               checks\n"
"  --tls-priorities=[prios]     set TLS priorities\n"
"  --tls-host-override=[host]   check the certificate for this host name\n"
"  --tls-min-dh-prime-bits=[b]  set the minimum DH prime size\n"
"  --tls-force-sslv3            accepted and ignored (obsolete)\n"
"Options specific to sendmail mode:\n"
"  -f, -r, --from=address       set the envelope from address\n"
"  -F name                      full name for a generated From header\n"
"  --from-full-name=name        the same as -F, as an account setting\n"
"  --allow-from-override[=(on|off)]\n"
"                               let -f change the account's address\n"
"  -t, --read-recipients        read additional recipients from the mail\n"
"  --read-envelope-from         read the envelope from address from the\n"
"                               mail (not together with -f)\n"
"  -i, -oi                      a line with a single dot does not end\n"
"                               the mail\n"
"  -odi, -odq, -odb             deliver now (default), only queue, or\n"
"                               queue and deliver in the background\n"
"  -N, --dsn-notify=(off|never|failure,delay,success)\n"
"                               set DSN conditions\n"
"  -R, --dsn-return=(off|headers|full)\n"
"                               set DSN amount (-R hdrs = headers)\n"
"  --partial-delivery[=(on|off)]\n"
"                               send even if some recipients are refused\n"
"  --chunking[=(on|off)]        BDAT when the server offers CHUNKING\n"
"  --logfile=[file]             log to this file (\"-\" = standard output)\n"
"  --logfile-time-format=[fmt]  time format for log file lines\n"
"  --syslog[=(on|off|facility)] log to syslog\n"
"  --aliases=[file]             replace local recipients using aliases\n"
"  --set-from-header[=(auto|on|off)]\n"
"                               set the From header\n"
"  --set-date-header[=(auto|off)]\n"
"                               set the Date header\n"
"  --set-msgid-header[=(auto|off)]\n"
"                               set the Message-ID header\n"
"  --set-to-header[=(on|off|undisclosed_recipients)]\n"
"                               set the To header\n"
"  --remove-bcc-headers[=(on|off)]\n"
"                               remove Bcc headers\n"
"  Still accepted: --undisclosed-recipients, --add-missing-from-header,\n"
"  --add-missing-date-header, --keepbcc, --auto-from, --maildomain.\n"
"Sendmail options accepted and ignored:\n"
"  -X file, -B type, -V envid, -o option (-oem, -oQ..., ...),\n"
"  -O option=value, -A file, -h hops, -L tag, -G, -m, -n, -U, -bm.\n"
"  -X never selects a log file.  The -b modes but -bm, -bp, -bi, -bs and\n"
"  -bv and -qTIME (a queue daemon) are not supported.\n"
"\n"
"Options with an optional value take it only after '=' (--tls=on):\n"
"a separate word would be a recipient, so \"--tls on\" is refused.\n"
"Abbreviated long options are not accepted.\n";

void cli_opts_init(struct opts *o)
{
	memset(o, 0, sizeof *o);
	o->mode = CLI_MODE_SEND;
	o->prog = "msmtp";
}

void cli_opts_free(struct opts *o)
{
	size_t k;

	for (k = 0; k < o->nsettings; k++) {
		if (o->settings[k].owned)
			free(o->settings[k].arg);
	}
	free(o->settings);
	o->settings = NULL;
	o->nsettings = 0;
}

const char *cli_help_text(void)
{
	return help_text;
}

const char *cli_usage_hint(void)
{
	return "Try 'msmtp --help' for more information.";
}

static const char *show(char *out, size_t outlen, const char *s)
{
	return buf_show(out, outlen, s, strlen(s));
}

static int has_line_break(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

/* Append one (command, value) pair.  `val` points into argv unless `copy`
 * is set, in which case a private copy is made (for built-in values). */
static int add_setting(struct parser *p, const char *cmd, char *val,
		       const char *copy)
{
	struct opts *o = p->o;
	struct cli_setting *nv;
	char *owned = NULL;

	if (copy != NULL) {
		owned = strdup(copy);
		if (owned == NULL)
			return err_set(p->e, ERR_OSERR, "out of memory");
		val = owned;
	}
	nv = realloc(o->settings, (o->nsettings + 1) * sizeof *nv);
	if (nv == NULL) {
		free(owned);
		return err_set(p->e, ERR_OSERR, "out of memory");
	}
	o->settings = nv;
	nv[o->nsettings].cmd = cmd;
	nv[o->nsettings].arg = val;
	nv[o->nsettings].owned = owned != NULL;
	o->nsettings++;
	return 0;
}

/* 1 if conf's own message, which quotes the value raw, may be shown:
 * no control byte and no more than BUF_SHOW_MAX bytes. */
static int cli_value_shows_raw(const char *val)
{
	size_t k;

	for (k = 0; val[k] != '\0'; k++)
		if ((unsigned char)val[k] < 0x20 || val[k] == 0x7f)
			return 0;
	return k <= BUF_SHOW_MAX;
}

/* Try a (command, value) pair on a scratch account with the msmtprc
 * validator itself (conf_account_set), so that a bad value is a usage
 * error now, before stdin is read, and the configuration file and the
 * command line keep one set of rules.  `name` is the option as spelt
 * ("--port", "-N"); a passwordeval command is never quoted (it may hold
 * the secret). */
static int cli_check_setting(struct parser *p, const char *cmd,
			     const char *val, const char *name)
{
	char shown[BUF_SHOW_SIZE];
	char where[BUF_SHOW_SIZE + 64];
	int secret = strcmp(cmd, "passwordeval") == 0;
	struct err ce;

	if (val == NULL)
		val = "";
	if (p->scratch == NULL)
		p->scratch = conf_account_new("command line");
	if (p->scratch == NULL)
		return err_set(p->e, ERR_OSERR, "out of memory");
	if (secret)
		snprintf(where, sizeof where, "%s", name);
	else
		snprintf(where, sizeof where, "%s%s%s", name,
			 name[1] == '-' ? "=" : " ",
			 buf_show(shown, sizeof shown, val, strlen(val)));
	err_init(&ce);
	if (conf_account_set(p->scratch, cmd, val, where, &ce) == 0)
		return 0;
	if (ce.code == ERR_OSERR)
		return err_set(p->e, ERR_OSERR, "%s", ce.msg);
	if (!secret && cli_value_shows_raw(val))
		return err_set(p->e, ERR_USAGE, "%s", ce.msg);
	return err_set(p->e, ERR_USAGE, "%s: invalid value for command %s",
		       where, cmd);
}

/* -f, -F and --from end up in MAIL FROM and in headers: a line break
 * there would inject commands or header fields. */
static int check_no_line_break(struct parser *p, const char *what,
			       const char *val)
{
	char shown[BUF_SHOW_SIZE];

	if (!has_line_break(val))
		return 0;
	return err_set(p->e, ERR_USAGE, "%s '%s' contains a line break", what,
	    show(shown, sizeof shown, val));
}

/* -bm sends, -bp lists the queue, -bi (newaliases) does nothing; say
 * which other one was asked for. */
static int check_operation_mode(struct parser *p, const char *val)
{
	char shown[BUF_SHOW_SIZE];

	if (strcmp(val, "m") == 0)
		return 0;
	if (strcmp(val, "p") == 0) {
		p->want_queue = CLI_MODE_QUEUE_LIST;
		return 0;
	}
	if (strcmp(val, "i") == 0) {
		p->want_newaliases = 1;
		return 0;
	}
	if (strcmp(val, "s") == 0) {
		p->want_bs = 1;
		return 0;
	}
	if (strcmp(val, "v") == 0) {
		p->want_verify = 1;
		return 0;
	}
	return err_set(p->e, ERR_USAGE, "unsupported operation mode b%s",
	    show(shown, sizeof shown, val));
}

/* -q alone flushes everything; -qRstr / -qSstr / -qIid filter by
 * recipient, sender or id (sendmail); -qTIME would be a daemon: refused. */
static int apply_queue(struct parser *p, const char *val)
{
	char shown[BUF_SHOW_SIZE];

	p->want_queue = CLI_MODE_QUEUE_FLUSH;
	if (val == NULL || val[0] == '\0')
		return 0;
	if (val[0] == 'R' && val[1])
		p->o->queue_rcpt = val + 1;
	else if (val[0] == 'S' && val[1])
		p->o->queue_sender = val + 1;
	else if (val[0] == 'I' && val[1])
		p->o->queue_id = val + 1;
	else
		return err_set(p->e, ERR_USAGE, "unsupported queue option -q%s "
		    "(no queue daemon: run 'msmtp --queue-run' from a timer)",
		    show(shown, sizeof shown, val));
	return 0;
}

/* Carry out one option.  `val` is its value (NULL if it has none) and
 * `bare` the built-in value to use when an optional value is absent.
 * `name` is how the user spelt it ("-f", "--from") for messages. */
static int apply(struct parser *p, enum cli_action act, const char *cmd,
		 char *val, const char *bare, const char *name)
{
	struct opts *o = p->o;

	switch (act) {
	case ACT_VERSION:
		p->want_version = 1;
		return 0;
	case ACT_HELP:
		p->want_help = 1;
		return 0;
	case ACT_PRETEND:
		p->want_pretend = 1;
		return 0;
	case ACT_SERVERINFO:
		p->want_serverinfo = 1;
		return 0;
	case ACT_DEBUG:
		o->debug = 1;
		/* only sendmail's glued "-d0.1" asks for the version */
		if (name[1] != '-' && val != NULL && strcmp(val, "0.1") == 0)
			o->print_version_too = 1;
		return 0;
	case ACT_FILE:
		o->conf_file = val;
		return 0;
	case ACT_ACCOUNT:
		o->account = val;
		return 0;
	case ACT_HOST:
		o->host_given = 1;
		if (cli_check_setting(p, "host", val, name) < 0)
			return -1;
		return add_setting(p, "host", val, NULL);
	case ACT_SETTING:
		if (cli_check_setting(p, cmd, val ? val : bare, name) < 0)
			return -1;
		if (val == NULL)
			return add_setting(p, cmd, NULL, bare);
		return add_setting(p, cmd, val, NULL);
	case ACT_FROM:
		o->from = val;
		return check_no_line_break(p, "envelope from address", val);
	case ACT_FULL_NAME:
		o->full_name = val;
		return check_no_line_break(p, "full name", val);
	case ACT_READ_RECIPIENTS:
		o->read_recipients = 1;
		return 0;
	case ACT_READ_ENVELOPE_FROM:
		o->read_envelope_from = 1;
		return 0;
	case ACT_IGNORE_DOTS:
		o->ignore_dots = 1;
		return 0;
	case ACT_IGNORED:
		return 0;
	case ACT_SENDMAIL_OPTION:
		if (strcmp(val, "i") == 0)
			o->ignore_dots = 1;
		else if (val[0] == 'd' && (val[1] == 'i' || val[1] == 'q'
					   || val[1] == 'b') && val[2] == '\0')
			o->delivery_mode = val[1];
		return 0;
	case ACT_OPERATION_MODE:
		return check_operation_mode(p, val);
	case ACT_QUEUE:
		return apply_queue(p, val);
	case ACT_QUEUE_RUN:
		p->want_queue = CLI_MODE_QUEUE_RUN;
		return 0;
	case ACT_QUEUE_REMOVE:
	case ACT_QUEUE_RETRY:
		p->want_queue = act == ACT_QUEUE_REMOVE ? CLI_MODE_QUEUE_REMOVE
		    : CLI_MODE_QUEUE_RETRY;
		o->queue_id = val;
		return 0;
	case ACT_OAUTH2:
		p->want_oauth2 = strcmp(name, "--oauth2-login") == 0
		    ? CLI_MODE_OAUTH2_LOGIN : CLI_MODE_OAUTH2_STATUS;
		return 0;
	case ACT_JSON:
		o->json = 1;
		return 0;
	case ACT_RMQS:
		p->want_rmqs = 1;
		o->etrn = val;
		return check_no_line_break(p, "--rmqs argument", val);
	case ACT_CONFIGURE:
		p->want_configure = 1;
		o->configure = val;
		return check_no_line_break(p, "--configure address", val);
	case ACT_UNSUPPORTED:
		return err_set(p->e, ERR_USAGE, "option %s is not supported yet",
		    name);
	}
	return err_set(p->e, ERR_SOFTWARE, "option %s has no action", name);
}

static int word_in(const char *word, const char *const *list)
{
	size_t k;

	if (list == NULL)
		return 0;
	for (k = 0; list[k] != NULL; k++) {
		if (strcasecmp(word, list[k]) == 0)
			return 1;
	}
	return 0;
}

/* msmtp takes "--tls on" as --tls plus a recipient "on".  Refuse it when
 * the next word is a value the option would accept, so the mistake is
 * reported instead of mailing a user called "on". */
static int check_separate_value(struct parser *p, const struct long_opt *lo)
{
	char shown[BUF_SHOW_SIZE];
	const char *next;

	if (p->i + 1 >= p->argc)
		return 0;
	next = p->argv[p->i + 1];
	if (!word_in(next, common_words) && !word_in(next, lo->words))
		return 0;
	show(shown, sizeof shown, next);
	return err_set(p->e, ERR_USAGE, "option --%s takes its value as "
	    "--%s=%s (a separate '%s' would be a recipient)", lo->name,
	    lo->name, shown, shown);
}

/* The same mistake for "-d 0.1": sendmail's debug flags are glued. */
static int check_separate_debug_value(struct parser *p)
{
	char shown[BUF_SHOW_SIZE];
	const char *next;

	if (p->i + 1 >= p->argc)
		return 0;
	next = p->argv[p->i + 1];
	if (next[0] < '0' || next[0] > '9' ||
	    next[strspn(next, "0123456789.")] != '\0')
		return 0;
	show(shown, sizeof shown, next);
	return err_set(p->e, ERR_USAGE, "option -d takes its value as -d%s "
	    "(a separate '%s' would be a recipient)", shown, shown);
}

static const struct long_opt *find_long(const char *name, size_t len)
{
	size_t k;

	for (k = 0; k < sizeof long_opts / sizeof long_opts[0]; k++) {
		if (strlen(long_opts[k].name) == len &&
		    memcmp(long_opts[k].name, name, len) == 0)
			return &long_opts[k];
	}
	return NULL;
}

static const struct short_opt *find_short(char letter)
{
	size_t k;

	for (k = 0; k < sizeof short_opts / sizeof short_opts[0]; k++) {
		if (short_opts[k].letter == letter)
			return &short_opts[k];
	}
	return NULL;
}

/* The value of a required-argument option that was not glued: the next
 * word, whatever it looks like (it may be "" or start with '-'). */
static char *next_word_value(struct parser *p, const char *name)
{
	if (p->i + 1 >= p->argc) {
		err_set(p->e, ERR_USAGE, "option %s requires an argument", name);
		return NULL;
	}
	p->i++;
	return p->argv[p->i];
}

/* An unknown long option: the error, and "did you mean" when a known
 * name is close (a typo, or an abbreviation a letter or two short). */
static int cli_unknown_long(struct parser *p, const char *name, size_t len)
{
	char shown[BUF_SHOW_SIZE];
	char word[ERR_NEAR_WORD_MAX + 1];
	struct err_near n;
	size_t k;

	err_set(p->e, ERR_USAGE, "invalid option --%s",
	    buf_show(shown, sizeof shown, name, len));
	if (len > ERR_NEAR_WORD_MAX || memchr(name, '\0', len) != NULL)
		return -1;
	memcpy(word, name, len);
	word[len] = '\0';
	err_near_init(&n, word);
	for (k = 0; k < sizeof long_opts / sizeof long_opts[0]; k++)
		err_near_try(&n, long_opts[k].name);
	if (err_near_best(&n) != NULL)
		err_hint(p->e, "did you mean '--%s'?", err_near_best(&n));
	return -1;
}

/* One "--name", "--name=value" or "--name value" (required values only);
 * names must match exactly, abbreviations are not accepted. */
static int parse_long(struct parser *p)
{
	char *word = p->argv[p->i];
	char *name = word + 2;
	char *eq = strchr(name, '=');
	size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
	char spelt[BUF_SHOW_SIZE + 2];
	const struct long_opt *lo;
	char *val = NULL;

	lo = find_long(name, len);
	if (lo == NULL)
		return cli_unknown_long(p, name, len);
	snprintf(spelt, sizeof spelt, "--%s", lo->name);
	if (lo->act == ACT_UNSUPPORTED)
		return apply(p, lo->act, lo->cmd, NULL, NULL, spelt);
	switch (lo->arg) {
	case ARG_NONE:
		if (eq != NULL)
			return err_set(p->e, ERR_USAGE,
			    "option %s does not take an argument", spelt);
		if (lo->bare != NULL)
			return apply(p, lo->act, lo->cmd, NULL, lo->bare, spelt);
		break;
	case ARG_REQUIRED:
		val = eq != NULL ? eq + 1 : next_word_value(p, spelt);
		if (val == NULL)
			return -1;
		break;
	case ARG_OPTIONAL:
		if (eq != NULL)
			val = eq + 1;
		else if (check_separate_value(p, lo) < 0)
			return -1;
		break;
	}
	return apply(p, lo->act, lo->cmd, val, lo->bare, spelt);
}

/* One word of clustered short options ("-ti", "-fADDR", "-f ADDR").  An
 * option with a value ends the cluster: the rest of the word, or else the
 * next word, is its value. */
static int parse_short_cluster(struct parser *p)
{
	char *word = p->argv[p->i];
	const struct short_opt *so;
	char shown[BUF_SHOW_SIZE];
	char spelt[3] = "-?";
	char *val;
	size_t j;

	for (j = 1; word[j] != '\0'; j++) {
		so = find_short(word[j]);
		if (so == NULL)
			return err_set(p->e, ERR_USAGE, "invalid option -- '%s'",
			    buf_show(shown, sizeof shown, word + j, 1));
		spelt[1] = so->letter;
		if (so->arg == ARG_NONE) {
			if (apply(p, so->act, so->cmd[0] ? so->cmd : NULL, NULL, NULL,
				  spelt) < 0)
				return -1;
			continue;
		}
		val = word[j + 1] != '\0' ? word + j + 1 : NULL;
		if (so->arg == ARG_OPTIONAL) {
			if (val == NULL && check_separate_debug_value(p) < 0)
				return -1;
		} else if (val == NULL) {
			val = next_word_value(p, spelt);
			if (val == NULL)
				return -1;
		}
		return apply(p, so->act, so->cmd[0] ? so->cmd : NULL, val, NULL,
		     spelt);
	}
	return 0;
}

/* Options end at the first word not starting with '-' (kept as the first
 * recipient) or after "--" (consumed).  No permutation: anything after
 * that is a recipient. */
static int parse_options(struct parser *p)
{
	char *word;
	int r;

	for (p->i = 1; p->i < p->argc; p->i++) {
		word = p->argv[p->i];
		if (word[0] != '-')
			return 0;
		if (word[1] == '\0')
			return err_set(p->e, ERR_USAGE, "invalid option -");
		if (word[1] == '-' && word[2] == '\0') {
			p->i++;
			return 0;
		}
		if (word[1] == '-')
			r = parse_long(p);
		else
			r = parse_short_cluster(p);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* A word after the options is a recipient; one starting with '-' is an
 * option smuggled in after a recipient (or after "--"), never honoured. */
static int take_recipients(struct parser *p)
{
	struct opts *o = p->o;
	char shown[BUF_SHOW_SIZE];
	size_t k;

	o->recipients = p->argv + p->i;
	o->nrecipients = (size_t)(p->argc - p->i);
	for (k = 0; k < o->nrecipients; k++) {
		if (o->recipients[k][0] == '-' && k > 0) {
			/* options stop at the first recipient */
			err_set(p->e, ERR_USAGE, "recipient '%s' starts with "
			    "'-'", show(shown, sizeof shown, o->recipients[k]));
			err_hint(p->e, "put options before the first "
			    "recipient");
			return -1;
		}
		if (o->recipients[k][0] == '-')
			return err_set(p->e, ERR_USAGE,
			    "recipient '%s' starts with '-'",
			    show(shown, sizeof shown, o->recipients[k]));
		if (check_no_line_break(p, "recipient", o->recipients[k]) < 0)
			return -1;
	}
	return 0;
}

/* Pick the mode: --help wins over --version, which wins over the
 * others; -P, -S, -bi and the queue modes exclude each other. */
static int choose_mode(struct parser *p)
{
	struct opts *o = p->o;

	if (p->want_help)
		o->mode = CLI_MODE_HELP;
	else if (p->want_version)
		o->mode = CLI_MODE_VERSION;
	else if (p->want_configure && (p->want_queue || p->want_pretend
				       || p->want_serverinfo || p->want_oauth2
				       || p->want_bs || p->want_verify
				       || p->want_rmqs || p->want_newaliases))
		return err_set(p->e, ERR_USAGE, "--configure cannot be combined "
		    "with another mode");
	else if (p->want_configure)
		o->mode = CLI_MODE_CONFIGURE;
	else if (p->want_newaliases && (p->want_queue || p->want_pretend ||
					p->want_serverinfo))
		return err_set(p->e, ERR_USAGE, "-bi (newaliases) cannot be "
		    "combined with another mode");
	else if (p->want_newaliases)
		o->mode = CLI_MODE_NEWALIASES;
	else if (p->want_bs && (p->want_queue || p->want_pretend ||
				p->want_serverinfo || p->want_oauth2))
		return err_set(p->e, ERR_USAGE, "-bs cannot be combined with "
		    "another mode");
	else if (p->want_bs)
		o->mode = CLI_MODE_SMTP_SESSION;
	else if (p->want_rmqs && (p->want_queue || p->want_pretend ||
				  p->want_serverinfo || p->want_oauth2
				  || p->want_verify))
		return err_set(p->e, ERR_USAGE, "--rmqs cannot be combined with "
		    "another mode");
	else if (p->want_rmqs)
		o->mode = CLI_MODE_RMQS;
	else if (p->want_verify && (p->want_queue || p->want_pretend ||
				    p->want_serverinfo || p->want_oauth2))
		return err_set(p->e, ERR_USAGE, "-bv cannot be combined with "
		    "another mode");
	else if (p->want_verify)
		o->mode = CLI_MODE_VERIFY;
	else if (p->want_oauth2 && (p->want_queue || p->want_pretend ||
				    p->want_serverinfo))
		return err_set(p->e, ERR_USAGE, "--oauth2-login and "
		    "--oauth2-status cannot be combined with another mode");
	else if (p->want_oauth2)
		o->mode = (enum cli_mode)p->want_oauth2;
	else if (p->want_queue && (p->want_pretend || p->want_serverinfo))
		return err_set(p->e, ERR_USAGE, "queue operations cannot be "
		    "combined with -P or -S");
	else if (p->want_queue)
		o->mode = (enum cli_mode)p->want_queue;
	else if (p->want_pretend && p->want_serverinfo)
		return err_set(p->e, ERR_USAGE, "options -P/--pretend and "
		    "-S/--serverinfo cannot be used together");
	else if (p->want_pretend)
		o->mode = CLI_MODE_PRETEND;
	else if (p->want_serverinfo)
		o->mode = CLI_MODE_SERVERINFO;
	else
		o->mode = CLI_MODE_SEND;
	return 0;
}

static int check_combinations(struct parser *p)
{
	struct opts *o = p->o;

	if (o->host_given && o->account != NULL)
		return err_set(p->e, ERR_USAGE, "options --host and "
		    "-a/--account cannot be used together");
	if (o->from != NULL && o->read_envelope_from)
		return err_set(p->e, ERR_USAGE, "options -f/--from and "
		    "--read-envelope-from cannot be used together");
	/* machine-readable output exists for the listing only */
	if (o->json && o->mode != CLI_MODE_QUEUE_LIST
	    && o->mode != CLI_MODE_HELP && o->mode != CLI_MODE_VERSION)
		return err_set(p->e, ERR_USAGE, "option --json needs the queue "
		    "listing (mailq or -bp)");
	if ((o->mode == CLI_MODE_SERVERINFO || (o->mode >= CLI_MODE_QUEUE_FLUSH
						 && o->mode != CLI_MODE_VERIFY)
	     || o->mode == CLI_MODE_NEWALIASES) && o->nrecipients > 0)
		return err_set(p->e, ERR_USAGE, "too many arguments");
	return 0;
}

/* Basename of argv[0]; "msmtp" when it has none. */
static const char *prog_name(const char *argv0)
{
	const char *slash = strrchr(argv0, '/');
	const char *base = slash != NULL ? slash + 1 : argv0;

	return base[0] != '\0' ? base : "msmtp";
}

int cli_parse(int argc, char **argv, struct opts *o, struct err *e)
{
	struct parser p;

	cli_opts_init(o);
	if (argc < 1 || argv == NULL || argv[0] == NULL)
		return err_set(e, ERR_USAGE, "no program name in argv");
	o->prog = prog_name(argv[0]);
	o->as_sendmail = strcmp(o->prog, "sendmail") == 0;
	memset(&p, 0, sizeof p);
	if (strcmp(o->prog, "mailq") == 0)
		p.want_queue = CLI_MODE_QUEUE_LIST;
	if (strcmp(o->prog, "newaliases") == 0)
		p.want_newaliases = 1;
	p.argc = argc;
	p.argv = argv;
	p.o = o;
	p.e = e;
	if (parse_options(&p) < 0 || take_recipients(&p) < 0 ||
	    choose_mode(&p) < 0 || check_combinations(&p) < 0) {
		conf_account_free(p.scratch);
		cli_opts_free(o);
		o->recipients = NULL;
		o->nrecipients = 0;
		return -1;
	}
	conf_account_free(p.scratch);
	return 0;
}
