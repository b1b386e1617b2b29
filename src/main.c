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
#include "discover.h"
#include "err.h"
#include "gate.h"
#include "log.h"
#include "msg.h"
#include "oauth.h"
#include "pipeline.h"
#include "qrun.h"
#include "serve.h"
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

/* The library versions this binary was built against, from the headers:
 * the libraries live in the module (ext.h), which --version does not
 * load, so that it stays a cheap start-up. */
static void main_print_libraries(void)
{
	printf("TLS/SSL library: GnuTLS %s\n", GNUTLS_VERSION);
	printf("Authentication library: GNU SASL %s\n", GSASL_VERSION);
	printf("IDN library: libidn2 %s\n", IDN2_VERSION);
}

/* -1 when the file names cannot be made (out of memory): nothing is
 * printed then rather than a "?" that looks like an answer ("?" stays
 * for a user file without a home directory). */
static int main_print_version(void)
{
	char *sysconf = conf_system_path();
	char *user;
	int user_oom;

	errno = 0;
	user = conf_user_path();
	user_oom = user == NULL && errno == ENOMEM;
	if (sysconf == NULL || user_oom) {
		free(sysconf);
		free(user);
		return -1;
	}
	printf("msmtp (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
	main_print_libraries();
	printf("System configuration file name: %s\n", sysconf);
	printf("User configuration file name: %s\n", user ? user : "?");
	free(sysconf);
	free(user);
	return 0;
}

/* Width of the setting names in --pretend (the longest is 22). */
#define MAIN_PRETEND_WIDTH 22

static void main_print_str(const char *k, const char *v)
{
	printf("%-*s = %s\n", MAIN_PRETEND_WIDTH, k, v ? v : "(not set)");
}

static void main_print_onoff(const char *k, int v)
{
	main_print_str(k, v == CONF_ON ? "on" : v == CONF_AUTO ? "auto"
		       : v == CONF_TLS_UNSET ? "(not set)" : "off");
}

/* A number where 0 means "not set" (ports, tls_min_dh_prime_bits). */
static void main_print_num(const char *k, int v)
{
	char num[32];

	snprintf(num, sizeof num, "%d", v);
	main_print_str(k, v > 0 ? num : NULL);
}

static void main_print_secs(const char *k, int v)
{
	char num[48];

	snprintf(num, sizeof num, "%d seconds", v);
	main_print_str(k, num);
}

/* A secret, or a command whose text may hold one: only whether it is
 * there. */
static void main_print_secret(const char *k, const char *v)
{
	main_print_str(k, v ? "(set, not shown)" : NULL);
}

/* The OAuth2 settings, presets applied; the client secret masked. */
static void main_pretend_oauth2(const struct account *a)
{
	static const char *const providers[] = { "off", "microsoft", "google",
						 "custom" };

	if (a->oauth2_provider == CONF_OAUTH2_NONE)
		return;
	main_print_str("oauth2_provider", providers[a->oauth2_provider]);
	main_print_str("oauth2_client_id", a->oauth2_client_id);
	main_print_secret("oauth2_client_secret", a->oauth2_client_secret);
	main_print_str("oauth2_tenant", a->oauth2_tenant);
	main_print_str("oauth2_scope", a->oauth2_scope);
	main_print_str("oauth2_flow", a->oauth2_flow == CONF_OAUTH2_FLOW_DEVICE
		       ? "device" : "code");
	main_print_str("oauth2_auth_endpoint", a->oauth2_auth_endpoint);
	main_print_str("oauth2_token_endpoint", a->oauth2_token_endpoint);
	main_print_str("oauth2_device_endpoint", a->oauth2_device_endpoint);
	main_print_secs("oauth2_refresh_margin", a->oauth2_refresh_margin);
	main_print_str("oauth2_token_store", a->oauth2_token_store
		       ? a->oauth2_token_store : "(default file)");
	main_print_str("oauth2_trust_file", a->oauth2_trust_file
		       ? a->oauth2_trust_file : "system");
}

/* The configuration files read (none with --host), as msmtp's --debug
 * tells: the system file, then the user's or the -C file. */
static void main_pretend_files(const struct run *r)
{
	main_print_str("system_file", r->conf.system_file
		       ? r->conf.system_file : "(none)");
	main_print_str("user_file", r->conf.user_file
		       ? r->conf.user_file : "(none)");
}

static void main_pretend_connection(const struct account *a)
{
	main_print_str("host", a->host);
	main_print_num("port", a->port);
	main_print_str("source_ip", a->source_ip);
	main_print_str("proxy_host", a->proxy_host);
	main_print_num("proxy_port", a->proxy_port);
	main_print_str("socket", a->socket);
	main_print_str("ip_family", a->ip_family == CONF_IP_V4 ? "ipv4"
		       : a->ip_family == CONF_IP_V6 ? "ipv6" : "any");
	if (a->timeout > 0)
		main_print_secs("timeout", a->timeout);
	else
		main_print_str("timeout", "off");
	main_print_str("protocol", a->protocol == CONF_PROTO_LMTP ? "lmtp" : "smtp");
	main_print_str("domain", a->domain);
}

static void main_pretend_auth(const struct account *a)
{
	main_print_str("auth", a->auth ? a->auth : "off");
	main_print_str("user", a->user);
	main_print_secret("password", a->password);
	/* the command may hold the secret itself ("echo secret") */
	main_print_secret("passwordeval", a->passwordeval);
	main_print_str("ntlmdomain", a->ntlmdomain);
}

static void main_pretend_tls(const struct account *a)
{
	if (a->tls == CONF_TLS_UNSET)
		main_print_str("tls", "off for a loopback peer, else STARTTLS");
	else
		main_print_onoff("tls", a->tls);
	main_print_onoff("tls_starttls", a->tls_starttls);
	main_print_str("tls_trust_file", a->tls_trust_file == NULL ? "system"
		       : *a->tls_trust_file ? a->tls_trust_file : "(none)");
	main_print_str("tls_crl_file", a->tls_crl_file);
	main_print_str("tls_fingerprint", a->tls_fingerprint);
	main_print_str("tls_key_file", a->tls_key_file);
	main_print_str("tls_cert_file", a->tls_cert_file);
	main_print_onoff("tls_certcheck", a->tls_certcheck);
	main_print_str("tls_priorities", a->tls_priorities);
	main_print_str("tls_host_override", a->tls_host_override);
	main_print_num("tls_min_dh_prime_bits", a->tls_min_dh_prime_bits);
	main_print_onoff("tls_session_cache", a->tls_session_cache);
}

static void main_pretend_envelope(const struct run *r,
				  const struct account *a)
{
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
}

/* The queue, with the directory it would use whether or not it is on
 * (mailq and -q look there too); the directory is found before anything
 * is printed, so no memory for it means no half listing. */
static void main_pretend_queue(const struct account *a, const char *dir)
{
	static const char *const modes[] = { "off", "tempfail", "always" };

	main_print_str("queue", a->queue >= CONF_QUEUE_OFF
		       && a->queue <= CONF_QUEUE_ALWAYS ? modes[a->queue] : "?");
	main_print_str("queue_dir", dir);
	main_print_secs("queue_lifetime", a->queue_lifetime);
	main_print_secs("queue_backoff", a->queue_backoff);
	main_print_onoff("queue_notify", a->queue_notify);
	main_print_onoff("queue_opportunistic", a->queue_opportunistic);
	main_print_str("failover", a->failover);
}

static void main_pretend_log(const struct account *a)
{
	main_print_str("logfile", a->logfile);
	main_print_str("logfile_format", a->logfile_format == CONF_LOGFILE_JSON
		       ? "json" : "text");
	main_print_str("logfile_time_format", a->logfile_time_format
		       ? a->logfile_time_format : "%b %d %H:%M:%S");
	main_print_str("syslog", a->syslog ? a->syslog : "off");
	main_print_str("aliases", a->aliases);
}

/* --pretend: every effective setting of the account, in the order of
 * the msmtprc commands, after the files read; secrets only as "(set, not
 * shown)". */
static int main_pretend(const struct run *r, struct err *e)
{
	const struct account *a = r->res.acct;
	char *dir = deliver_queue_dir(a);

	if (dir == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	main_pretend_files(r);
	printf("%-*s = %s (%s)\n", MAIN_PRETEND_WIDTH, "account", a->name,
	       a->file ? a->file : "command line");
	main_pretend_connection(a);
	main_pretend_auth(a);
	main_pretend_tls(a);
	main_pretend_envelope(r, a);
	main_pretend_queue(a, dir);
	main_pretend_log(a);
	main_pretend_oauth2(a);
	free(dir);
	return 0;
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
	if (s->tls_used && s->tls_info != NULL)
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
 * the same file.  getcwd allocates: no PATH_MAX array in main's frame,
 * which every send would carry (each new stack page is a page fault). */
static int main_conf_file(struct run *r, struct err *e)
{
	char *cwd;
	size_t n;

	if (r->o.conf_file == NULL)
		return 0;
	r->conf_file = realpath(r->o.conf_file, NULL);
	if (r->conf_file != NULL || r->o.conf_file[0] == '/') {
		if (r->conf_file == NULL)
			r->conf_file = strdup(r->o.conf_file);
	} else if ((cwd = getcwd(NULL, 0)) != NULL) {
		n = strlen(cwd) + strlen(r->o.conf_file) + 2;
		if ((r->conf_file = malloc(n)) != NULL)
			snprintf(r->conf_file, n, "%s/%s", cwd, r->o.conf_file);
		free(cwd);
	} else if (errno == ENOMEM) {
		return err_set(e, ERR_OSERR, "out of memory");
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
	return main_pretend(r, e);
}

/* -S and --rmqs: a session without a message, through the gate like
 * every connection (-S without credentials). */
static int main_gated_session(struct run *r, const char *etrn,
			      struct err *e)
{
	struct pipeline_req rq;
	struct gate g;
	int rc;

	main_request(r, &rq);
	if (pipeline_account(&rq, &r->res, e) < 0)
		return -1;
	rc = gate_open(&g, r->res.acct, etrn != NULL, e);
	if (rc == 0)
		rc = etrn ? submit_etrn(&g, etrn, &r->res.info, e)
			: submit_probe(&g, &r->res.info, e);
	gate_close(&g);
	return rc;
}

static int main_serverinfo(struct run *r, struct err *e)
{
	if (main_gated_session(r, NULL, e) < 0)
		return -1;
	main_print_serverinfo(r);
	return 0;
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


/* -bv: one line per recipient on stdout, nothing sent. */
static int main_verify(struct run *r, struct err *e)
{
	struct pipeline_req rq;

	main_request(r, &rq);
	return pipeline_verify(&rq, &r->res, stdout, e);
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

static void main_conf_warnings(const struct run *r)
{
	size_t i;

	for (i = 0; i < r->conf.nwarnings; i++)  /* files skipped as unreadable */
		log_warn("%s", r->conf.warnings[i]);
}

/* How long -bs waits for a silent client: 5 minutes, or
 * MSMTP_BS_IDLE_TIMEOUT seconds (for tests). */
static int main_idle_timeout(void)
{
	const char *v = getenv("MSMTP_BS_IDLE_TIMEOUT");
	char *end;
	long n;

	if (v == NULL || *v == '\0')
		return SERVE_IDLE_TIMEOUT;
	n = strtol(v, &end, 10);
	return *end == '\0' && n > 0 && n <= SERVE_IDLE_TIMEOUT ? (int)n
		: SERVE_IDLE_TIMEOUT;
}

/* -bs: nothing but SMTP on stdout and nothing on stderr, so diagnostics
 * go to the chosen account's log file or syslog; a configuration that
 * cannot work is said in a 554 greeting (exit 78), no memory to set the
 * session up in a 421 greeting (exit 71). */
static int main_smtp_session(struct run *r, int load_rc, struct err *e)
{
	struct pipeline_req rq;
	struct serve_ctx cx;
	char why[ERR_MSG_MAX];

	main_request(r, &rq);
	if (load_rc == 0 && pipeline_account(&rq, &r->res, e) == 0
	    && log_divert(r->res.acct->logfile,
			  r->res.acct->logfile_time_format,
			  r->res.acct->syslog) < 0)
		err_set(e, ERR_OSERR, "out of memory");
	main_conf_warnings(r);
	memset(&cx, 0, sizeof cx);
	cx.tmpl = &rq;
	cx.idle = main_idle_timeout();
	cx.in_fd = STDIN_FILENO;
	cx.out_fd = STDOUT_FILENO;
	if (err_isset(e)) {
		snprintf(why, sizeof why, "%s", e->msg);
		cx.refuse = why;
		cx.refuse_later = e->code == ERR_OSERR;
		err_recode(e, ERR_CONFIG);
	}
	return serve_session(&cx, e);
}

static int main_run(struct run *r, struct err *e)
{
	struct qrun_ctx cx;
	int rc;

	if (r->o.mode == CLI_MODE_SMTP_SESSION)
		log_divert(NULL, NULL, NULL);
	/* --configure is for someone without a configuration yet */
	if (r->o.mode == CLI_MODE_CONFIGURE)
		return discover_configure(r->o.configure, stdout, e);
	rc = main_conf_file(r, e);
	if (rc == 0)
		rc = main_load_config(r, e);
	if (r->o.mode == CLI_MODE_SMTP_SESSION)
		return main_smtp_session(r, rc, e);
	main_conf_warnings(r);
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
		return qrun_list(&cx, r->o.json, e);
	case CLI_MODE_QUEUE_REMOVE:
	case CLI_MODE_QUEUE_RETRY:
		return qrun_edit(&cx, r->o.queue_id,
				 r->o.mode == CLI_MODE_QUEUE_REMOVE, e);
	case CLI_MODE_OAUTH2_LOGIN:
	case CLI_MODE_OAUTH2_STATUS:
		return main_oauth2(r, e);
	case CLI_MODE_VERIFY:
		return main_verify(r, e);
	case CLI_MODE_RMQS:
		return main_gated_session(r, r->o.etrn, e);
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
		|| m == CLI_MODE_OAUTH2_STATUS || m == CLI_MODE_VERIFY
		|| m == CLI_MODE_CONFIGURE;
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

/* The error line and, when the error has one, its hint line: both on
 * stderr, or both into the log under -bs (log_error follows the
 * diversion). */
static void main_print_error(const struct err *e)
{
	log_error("%s", e->msg);
	if (e->hint[0] != '\0')
		log_error("hint: %s", e->hint);
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
		main_print_error(&e);
		fprintf(stderr, "%s\n", cli_usage_hint());
		main_free(&r);
		return ERR_USAGE;
	}
	log_set_debug(r.o.debug);
	errno = 0;
	if ((r.o.print_version_too || r.o.mode == CLI_MODE_VERSION)
	    && main_print_version() < 0) {
		log_error("out of memory");
		main_free(&r);
		return ERR_OSERR;
	}
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
		main_print_error(&e);
	code = main_check_stdout(&r, code);
	main_free(&r);
	return code;
}
