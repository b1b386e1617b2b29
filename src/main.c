/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * main - parse, dispatch, exit code.  The command line becomes options;
 * the mode decides what runs (a message through the pipeline, a queue
 * run, a listing, -P, -S); the outcome becomes the exit status.  It is
 * the only place that prints an error and the only place that exits.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gsasl.h>
#include <idn2.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "err.h"
#include "gate.h"
#include "log.h"
#include "msg.h"
#include "oauth.h"
#include "pipeline.h"
#include "qrun.h"
#include "submit.h"

/* Everything one run needs, released in one place. */
struct run {
	struct opts o;
	struct conf conf;
	char *conf_file;                /* -C made absolute, or NULL */
	struct msg *msg;
	struct pipeline_result res;
};

/* GNU mailutils and others may start us with fds 0-2 closed; without
 * this, the first file we open would become stdout and receive output. */
static void main_fd_hygiene(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
			int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);

			if (n >= 0 && n != fd) {
				dup2(n, fd);
				close(n);
			}
		}
	}
}

static void main_print_version(void)
{
	char *sysconf = conf_system_path();
	char *user = conf_user_path();

	printf("msmtp (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
	printf("TLS/SSL library: GnuTLS %s\n", gnutls_check_version(NULL));
	printf("Authentication library: GNU SASL %s\n",
	       gsasl_check_version(NULL));
	printf("IDN library: libidn2 %s\n", idn2_check_version(NULL));
	printf("System configuration file name: %s\n", sysconf ? sysconf : "?");
	printf("User configuration file name: %s\n", user ? user : "?");
	free(sysconf);
	free(user);
}

static void main_print_str(const char *k, const char *v)
{
	printf("%-20s= %s\n", k, v ? v : "(not set)");
}

static void main_print_onoff(const char *k, int v)
{
	printf("%-20s= %s\n", k, v == CONF_ON ? "on" : v == CONF_AUTO ? "auto"
	       : v == CONF_TLS_UNSET ? "(not set)" : "off");
}

/* The OAuth2 settings, presets applied; the client secret masked. */
static void main_pretend_oauth2(const struct account *a)
{
	static const char *const providers[] = { "off", "microsoft", "google",
						 "custom" };
	char num[32];

	if (a->oauth2_provider == CONF_OAUTH2_NONE)
		return;
	main_print_str("oauth2_provider", providers[a->oauth2_provider]);
	main_print_str("oauth2_client_id", a->oauth2_client_id);
	main_print_str("oauth2_client_secret",
		       a->oauth2_client_secret ? "*" : NULL);
	main_print_str("oauth2_tenant", a->oauth2_tenant);
	main_print_str("oauth2_scope", a->oauth2_scope);
	main_print_str("oauth2_flow", a->oauth2_flow == CONF_OAUTH2_FLOW_DEVICE
		       ? "device" : "code");
	main_print_str("oauth2_auth_endpoint", a->oauth2_auth_endpoint);
	main_print_str("oauth2_token_endpoint", a->oauth2_token_endpoint);
	main_print_str("oauth2_device_endpoint", a->oauth2_device_endpoint);
	snprintf(num, sizeof num, "%d seconds", a->oauth2_refresh_margin);
	main_print_str("oauth2_refresh_margin", num);
	main_print_str("oauth2_token_store", a->oauth2_token_store
		       ? a->oauth2_token_store : "(default file)");
	main_print_str("oauth2_trust_file", a->oauth2_trust_file
		       ? a->oauth2_trust_file : "system");
}

/* --pretend: the effective account, with the password masked. */
static void main_pretend(const struct run *r)
{
	const struct account *a = r->res.acct;
	char num[32];

	printf("account             = %s (%s)\n", a->name,
	       a->file ? a->file : "command line");
	main_print_str("host", a->host);
	snprintf(num, sizeof num, "%d", a->port);
	main_print_str("port", num);
	main_print_str("source_ip", a->source_ip);
	main_print_str("socket", a->socket);
	if (a->timeout > 0)
		snprintf(num, sizeof num, "%d seconds", a->timeout);
	else
		snprintf(num, sizeof num, "off");
	main_print_str("timeout", num);
	main_print_str("protocol", a->protocol == CONF_PROTO_LMTP ? "lmtp" : "smtp");
	main_print_str("domain", a->domain);
	main_print_str("auth", a->auth ? a->auth : "off");
	main_print_str("user", a->user);
	main_print_str("password", a->password ? "*" : NULL);
	/* the command may hold the secret itself ("echo secret") */
	main_print_str("passwordeval", a->passwordeval ? "(set, not shown)" : NULL);
	if (a->tls == CONF_TLS_UNSET)
		main_print_str("tls", "off for a loopback peer, else STARTTLS");
	else
		main_print_onoff("tls", a->tls);
	main_print_onoff("tls_starttls", a->tls_starttls);
	main_print_str("tls_trust_file", a->tls_trust_file ? a->tls_trust_file : "system");
	main_print_str("tls_fingerprint", a->tls_fingerprint);
	main_print_onoff("tls_certcheck", a->tls_certcheck);
	main_print_str("from", r->res.from ? r->res.from : a->from);
	main_print_str("from_full_name", a->from_full_name);
	main_print_onoff("allow_from_override", a->allow_from_override);
	main_print_str("dsn_notify", a->dsn_notify ? a->dsn_notify : "off");
	main_print_str("dsn_return", a->dsn_return ? a->dsn_return : "off");
	main_print_onoff("set_from_header", a->set_from_header);
	main_print_onoff("set_date_header", a->set_date_header);
	main_print_onoff("set_msgid_header", a->set_msgid_header);
	main_print_str("set_to_header", a->set_to_header == CONF_TO_ON ? "on"
		       : a->set_to_header == CONF_TO_UNDISCLOSED
		       ? "undisclosed_recipients" : "off");
	main_print_onoff("remove_bcc_headers", a->remove_bcc_headers);
	main_print_onoff("partial_delivery", a->partial_delivery);
	main_print_onoff("chunking", a->chunking);
	main_print_str("logfile", a->logfile);
	main_print_str("syslog", a->syslog ? a->syslog : "off");
	main_print_str("aliases", a->aliases);
	main_pretend_oauth2(a);
}

static void main_print_serverinfo(const struct run *r)
{
	const struct account *a = r->res.acct;
	const struct submit_info *s = &r->res.info;
	const struct smtp_caps *c = &s->caps;

	if (a->socket)
		printf("%s server at socket %s:\n",
		       a->protocol == CONF_PROTO_LMTP ? "LMTP" : "SMTP",
		       a->socket);
	else
		printf("%s server at %s (%s), port %d:\n",
		       a->protocol == CONF_PROTO_LMTP ? "LMTP" : "SMTP",
		       a->host, s->peer, a->port);
	printf("    %s\n", s->greeting);
	if (s->tls_used)
		fputs(s->tls_info, stdout);
	if (!c->esmtp) {
		printf("No special capabilities.\n");
		return;
	}
	printf("Capabilities:\n");
	if (c->size) {
		if (c->size_max)
			printf("    SIZE %llu:\n        Maximum message size is %llu bytes = %.2f MiB\n",
			       (unsigned long long)c->size_max,
			       (unsigned long long)c->size_max,
			       (double)c->size_max / 1048576.0);
		else
			printf("    SIZE:\n        No limit on the message size\n");
	}
	if (c->pipelining)
		printf("    PIPELINING:\n        Support for command grouping for faster transmission\n");
	if (c->eightbitmime)
		printf("    8BITMIME:\n        Support for 8-bit message bodies\n");
	if (c->smtputf8)
		printf("    SMTPUTF8:\n        Support for UTF-8 in addresses and headers\n");
	if (c->chunking)
		printf("    CHUNKING:\n        Support for BDAT message transfer\n");
	if (c->enhancedstatuscodes)
		printf("    ENHANCEDSTATUSCODES:\n        Enhanced status codes in replies\n");
	if (c->etrn)
		printf("    ETRN:\n        Support for requesting the remote queue to be flushed\n");
	if (c->dsn)
		printf("    DSN:\n        Support for Delivery Status Notifications\n");
	if (c->starttls)
		printf("    STARTTLS:\n        Support for TLS encryption via the STARTTLS command\n");
	if (c->auth)
		printf("    AUTH:\n        Supported authentication methods:\n        %s\n",
		       c->auth_mechs);
}

/* The configuration: none with --host; else the system file and -C or
 * the user's file. */
static int main_load_config(struct run *r, struct err *e)
{
	if (r->o.host_given)
		return 0;
	return conf_load_all(&r->conf, r->conf_file, e);
}

/* -C as an absolute path: queued messages record it, and a later queue
 * run (from another directory, or as the user in root's run) must find
 * the same file. */
static int main_conf_file(struct run *r, struct err *e)
{
	char cwd[PATH_MAX];
	size_t n;

	if (r->o.conf_file == NULL)
		return 0;
	r->conf_file = realpath(r->o.conf_file, NULL);
	if (r->conf_file != NULL || r->o.conf_file[0] == '/') {
		if (r->conf_file == NULL)
			r->conf_file = strdup(r->o.conf_file);
	} else if (getcwd(cwd, sizeof cwd) != NULL) {
		n = strlen(cwd) + strlen(r->o.conf_file) + 2;
		if ((r->conf_file = malloc(n)) != NULL)
			snprintf(r->conf_file, n, "%s/%s", cwd, r->o.conf_file);
	} else {
		r->conf_file = strdup(r->o.conf_file);
	}
	return r->conf_file ? 0 : err_set(e, ERR_OSERR, "out of memory");
}

static void main_request(const struct run *r, struct pipeline_req *rq)
{
	memset(rq, 0, sizeof *rq);
	rq->conf = &r->conf;
	rq->conf_file = r->conf_file;
	rq->account = r->o.account;
	rq->host_given = r->o.host_given;
	rq->settings = r->o.settings;
	rq->nsettings = r->o.nsettings;
	rq->from = r->o.from;
	rq->read_envelope_from = r->o.read_envelope_from;
	rq->read_recipients = r->o.read_recipients;
	rq->full_name = r->o.full_name;
	rq->recipients = r->o.recipients;
	rq->nrecipients = r->o.nrecipients;
	rq->delivery_mode = r->o.delivery_mode;
}

/* The message on standard input, through the pipeline. */
static int main_send(struct run *r, struct err *e)
{
	struct msg_read_opts ro;
	struct pipeline_req rq;
	int rc;

	memset(&ro, 0, sizeof ro);
	ro.dot_ends_input = r->o.as_sendmail && !r->o.ignore_dots;
	if (msg_read(STDIN_FILENO, &ro, &r->msg, e) < 0)
		return -1;
	main_request(r, &rq);
	rc = pipeline_run(&rq, r->msg, &r->res, e);
	if (r->res.note[0])
		fprintf(stderr, "%s: %s\n", log_prog(), r->res.note);
	return rc;
}

static int main_pretend_mode(struct run *r, struct err *e)
{
	struct pipeline_req rq;

	main_request(r, &rq);
	if (pipeline_account(&rq, &r->res, e) < 0)
		return -1;
	main_pretend(r);
	return 0;
}

/* -S: through the gate like every connection, without credentials. */
static int main_serverinfo(struct run *r, struct err *e)
{
	struct pipeline_req rq;
	struct gate g;
	int rc;

	main_request(r, &rq);
	if (pipeline_account(&rq, &r->res, e) < 0)
		return -1;
	rc = gate_open(&g, r->res.acct, 0, e);
	if (rc == 0)
		rc = submit_probe(&g, &r->res.info, e);
	gate_close(&g);
	if (rc == 0)
		main_print_serverinfo(r);
	return rc;
}

/* --oauth2-login / --oauth2-status for the chosen account. */
static int main_oauth2(struct run *r, struct err *e)
{
	struct pipeline_req rq;

	main_request(r, &rq);
	if (pipeline_account(&rq, &r->res, e) < 0)
		return -1;
	if (r->o.mode == CLI_MODE_OAUTH2_LOGIN)
		return oauth_login(r->res.acct, stdout, e);
	return oauth_status(r->res.acct, stdout, e);
}

/* -q / --queue-run: --queue-run is quiet (the log tells); -q says in one
 * line when messages are still waiting or failed.  A deferred message is
 * not an error of the run (it stays queued); a failure to read the queue
 * is. */
static int main_flush(struct run *r, struct err *e)
{
	struct qrun_ctx cx;
	struct qrun_filter f;
	struct qrun_stats st;
	int rc;

	cx.conf = &r->conf;
	cx.conf_file = r->conf_file;
	memset(&f, 0, sizeof f);
	f.due_only = r->o.mode == CLI_MODE_QUEUE_RUN;
	f.id = r->o.queue_id;
	f.rcpt = r->o.queue_rcpt;
	f.sender = r->o.queue_sender;
	rc = qrun_flush(&cx, &f, &st, e);
	log_debug("queue run: %d tried, %d delivered, %d deferred, %d failed, "
		  "%d busy or kept", st.tried, st.delivered, st.deferred,
		  st.failed, st.skipped);
	if (r->o.mode == CLI_MODE_QUEUE_FLUSH
	    && st.deferred + st.skipped + st.failed > 0)
		fprintf(stderr, "%s: queue run: %d delivered, %d failed, %d "
			"still queued ('mailq' shows why)\n", log_prog(),
			st.delivered, st.failed, st.deferred + st.skipped);
	return rc;
}

static int main_run(struct run *r, struct err *e)
{
	struct qrun_ctx cx;

	int rc = main_conf_file(r, e);
	size_t i;

	if (rc == 0)
		rc = main_load_config(r, e);
	for (i = 0; i < r->conf.nwarnings; i++)  /* files skipped as unreadable */
		log_warn("%s", r->conf.warnings[i]);
	if (rc < 0)
		return -1;
	cx.conf = &r->conf;
	cx.conf_file = r->conf_file;
	switch (r->o.mode) {
	case CLI_MODE_PRETEND:
		return main_pretend_mode(r, e);
	case CLI_MODE_SERVERINFO:
		return main_serverinfo(r, e);
	case CLI_MODE_QUEUE_FLUSH:
	case CLI_MODE_QUEUE_RUN:
		return main_flush(r, e);
	case CLI_MODE_QUEUE_LIST:
		return qrun_list(&cx, e);
	case CLI_MODE_QUEUE_REMOVE:
	case CLI_MODE_QUEUE_RETRY:
		return qrun_edit(&cx, r->o.queue_id,
				 r->o.mode == CLI_MODE_QUEUE_REMOVE, e);
	case CLI_MODE_OAUTH2_LOGIN:
	case CLI_MODE_OAUTH2_STATUS:
		return main_oauth2(r, e);
	default:
		return main_send(r, e);
	}
}

/* Modes whose product is standard output fail when it cannot be
 * written; for the others (a message sent or queued, with --debug or a
 * logfile "-") the message's outcome decides and a warning tells. */
static int main_stdout_is_product(enum cli_mode m)
{
	return m == CLI_MODE_PRETEND || m == CLI_MODE_SERVERINFO
		|| m == CLI_MODE_QUEUE_LIST || m == CLI_MODE_VERSION
		|| m == CLI_MODE_HELP || m == CLI_MODE_OAUTH2_LOGIN
		|| m == CLI_MODE_OAUTH2_STATUS;
}

static int main_check_stdout(const struct run *r, int code)
{
	int flush_failed = fflush(stdout) != 0;
	const char *why = flush_failed ? strerror(errno) : "a write failed";

	if (!flush_failed && !ferror(stdout))
		return code;
	if (main_stdout_is_product(r->o.mode)) {
		log_error("cannot write to standard output: %s", why);
		return code ? code : ERR_IOERR;
	}
	log_warn("cannot write to standard output: %s (the message's "
		 "outcome is not affected)", why);
	return code;
}

static void main_free(struct run *r)
{
	pipeline_result_free(&r->res);
	msg_free(r->msg);
	conf_free(&r->conf);
	free(r->conf_file);
	cli_opts_free(&r->o);
}

int main(int argc, char **argv)
{
	struct run r;
	struct err e;
	int code;

	main_fd_hygiene();
	signal(SIGPIPE, SIG_IGN);
	memset(&r, 0, sizeof r);
	err_init(&e);
	cli_opts_init(&r.o);
	conf_init(&r.conf);
	pipeline_result_init(&r.res);
	log_set_prog("msmtp");

	if (cli_parse(argc, argv, &r.o, &e) < 0) {
		log_error("%s", e.msg);
		fprintf(stderr, "%s\n", cli_usage_hint());
		main_free(&r);
		return ERR_USAGE;
	}
	log_set_debug(r.o.debug);
	errno = 0;
	if (r.o.print_version_too || r.o.mode == CLI_MODE_VERSION)
		main_print_version();
	if (r.o.mode == CLI_MODE_VERSION || r.o.mode == CLI_MODE_HELP
	    || r.o.mode == CLI_MODE_NEWALIASES) {       /* -bi: nothing to do */
		if (r.o.mode == CLI_MODE_HELP)
			fputs(cli_help_text(), stdout);
		code = main_check_stdout(&r, 0);
		main_free(&r);
		return code;
	}

	code = main_run(&r, &e) < 0 ? e.code : 0;
	if (code != 0)
		log_error("%s", e.msg);
	code = main_check_stdout(&r, code);
	main_free(&r);
	return code;
}
