/*
 * main - wiring only: command line -> configuration -> message ->
 * envelope -> one delivery attempt -> log -> exit code.  It is the only
 * place that prints an error and the only place that exits.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gsasl.h>
#include <idn2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "addr.h"
#include "aliases.h"
#include "buf.h"
#include "cli.h"
#include "conf.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "sasl.h"
#include "secret.h"
#include "deliver.h"
#include "submit.h"

#include <arpa/inet.h>

/* Everything one run needs, released in one place. */
struct run {
	struct opts o;
	struct conf conf;
	struct account *acct;
	struct msg *msg;
	char *from;                     /* envelope sender */
	struct addr_list rcpts;
	struct submit_result res;
	struct secret *password;        /* password or OAuth token */
	struct account *used;           /* account of the last attempt */
	int used_owned;
	char queued_id[64];             /* set when the message was queued */
	int session_tried;
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

static int main_load_config(struct run *r, struct err *e)
{
	char *path;
	int rc;

	if (r->o.host_given)
		return 0;
	path = conf_system_path();
	if (path == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	rc = conf_load_file(&r->conf, path, 0, 0, e);
	free(path);
	if (rc < 0)
		return -1;
	if (r->o.conf_file)
		return conf_load_file(&r->conf, r->o.conf_file, 1, 1, e);
	path = conf_user_path();
	if (path == NULL) /* no home directory: no user file */
		return errno == ENOENT ? 0 : err_set(e, ERR_OSERR, "out of memory");
	rc = conf_load_file(&r->conf, path, 1, 0, e);
	free(path);
	return rc;
}

/* "<>" and MAILER-DAEMON mean the null sender (sendmail convention); a
 * "Name <addr>" form is reduced to its address. */
static int main_normalize_from(const char *in, char **out, struct err *e)
{
	struct addr_list l;

	if (strcmp(in, "<>") == 0 || strcasecmp(in, "MAILER-DAEMON") == 0
	    || *in == '\0') {
		*out = strdup("");
	} else if (strchr(in, '<') != NULL) {
		addr_list_init(&l);
		if (addr_parse_list(in, strlen(in), &l, e) < 0 || l.n != 1) {
			addr_list_free(&l);
			err_set(e, ERR_USAGE, "invalid envelope sender: "
				"expected one address");
			err_recode(e, ERR_USAGE);
			return -1;
		}
		*out = strdup(l.v[0]);
		addr_list_free(&l);
	} else {
		*out = strdup(in);
	}
	if (*out == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	return addr_check_envelope(*out, e);
}

/* Replace %F in the account's from with the From header address. */
static int main_expand_from_header(struct run *r, const char *from,
				   char **out, struct err *e)
{
	const char *p = strstr(from, "%F");
	char *hdr = NULL;
	struct buf b;

	if (p == NULL) {
		*out = strdup(from);
		return *out ? 0 : err_set(e, ERR_OSERR, "out of memory");
	}
	if (r->msg == NULL || msg_header_envelope_from(r->msg, &hdr, e) < 0)
		return -1;
	buf_init(&b, 4096);
	if (buf_append(&b, from, (size_t)(p - from)) < 0
	    || buf_append_str(&b, hdr ? hdr : "") < 0
	    || buf_append_str(&b, p + 2) < 0) {
		free(hdr);
		buf_free(&b);
		return err_set(e, ERR_CONFIG, "envelope sender too long");
	}
	free(hdr);
	*out = buf_steal(&b);
	return *out ? 0 : err_set(e, ERR_OSERR, "out of memory");
}

/* Envelope sender: --read-envelope-from, else -f (unless the account
 * forbids overriding), else the account's from. */
static int main_envelope_from(struct run *r, const char *given,
			      struct err *e)
{
	const struct account *a = r->acct;
	char *expanded = NULL;
	int rc;

	if (given != NULL && (a->allow_from_override != CONF_OFF
			      || a->from == NULL || conf_from_is_pattern(a->from)))
		return main_normalize_from(given, &r->from, e);
	if (a->from == NULL || conf_from_is_pattern(a->from))
		return err_set(e, ERR_CONFIG,
			       "envelope-from address is missing (set 'from' in "
			       "account %s or use -f)", a->name);
	if (main_expand_from_header(r, a->from, &expanded, e) < 0)
		return -1;
	rc = main_normalize_from(expanded, &r->from, e);
	free(expanded);
	if (rc < 0)
		err_recode(e, ERR_CONFIG);
	return rc;
}

static int main_recipients(struct run *r, struct err *e)
{
	size_t i;

	for (i = 0; i < r->o.nrecipients; i++) {
		const char *w = r->o.recipients[i];

		if (addr_parse_list(w, strlen(w), &r->rcpts, e) < 0) {
			err_recode(e, ERR_USAGE);
			err_prefix(e, "invalid recipient '%s'", w);
			return -1;
		}
	}
	if (r->o.read_recipients
	    && msg_header_recipients(r->msg, &r->rcpts, e) < 0)
		return -1;
	/* aliases rewrite the envelope only; headers stay as written */
	if (r->acct->aliases && aliases_expand(r->acct->aliases, &r->rcpts, e) < 0)
		return -1;
	for (i = 0; i < r->rcpts.n; i++)
		if (addr_check_envelope(r->rcpts.v[i], e) < 0)
			return -1;
	if (r->rcpts.n == 0)
		return err_set(e, ERR_USAGE, "no recipients found");
	return 0;
}

/* Message-ID right-hand side: the configured domain, unless it is the
 * uninformative default, then the sender's domain. */
static const char *main_msgid_domain(const struct run *r)
{
	const char *at = strrchr(r->from, '@');

	if ((r->acct->domain == NULL || strcmp(r->acct->domain, "localhost") == 0)
	    && at != NULL && at[1] != '\0')
		return at + 1;
	return r->acct->domain ? r->acct->domain : "localhost";
}

static int main_rewrite(struct run *r, struct err *e)
{
	struct msg_rewrite rw;
	const struct account *a = r->acct;

	memset(&rw, 0, sizeof rw);
	rw.set_from_header = a->set_from_header;
	rw.from_addr = r->from;
	rw.full_name = r->o.full_name ? r->o.full_name : a->from_full_name;
	rw.set_date_header = a->set_date_header;
	rw.set_msgid_header = a->set_msgid_header;
	rw.msgid_domain = main_msgid_domain(r);
	rw.set_to_header = a->set_to_header;
	rw.rcpts = &r->rcpts;
	rw.remove_bcc_headers = a->remove_bcc_headers == CONF_ON;
	return msg_rewrite(r->msg, &rw, e);
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

/* --pretend: the effective account, with the password masked. */
static void main_pretend(const struct run *r)
{
	const struct account *a = r->acct;
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
	main_print_onoff("tls", a->tls);
	main_print_onoff("tls_starttls", a->tls_starttls);
	main_print_str("tls_trust_file", a->tls_trust_file ? a->tls_trust_file : "system");
	main_print_str("tls_fingerprint", a->tls_fingerprint);
	main_print_onoff("tls_certcheck", a->tls_certcheck);
	main_print_str("from", r->from ? r->from : a->from);
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
	main_print_str("logfile", a->logfile);
	main_print_str("syslog", a->syslog ? a->syslog : "off");
	main_print_str("aliases", a->aliases);
}

static void main_print_serverinfo(const struct run *r)
{
	const struct submit_result *s = &r->res;
	const struct smtp_caps *c = &s->caps;

	if (r->acct->socket)
		printf("%s server at socket %s:\n",
		       r->acct->protocol == CONF_PROTO_LMTP ? "LMTP" : "SMTP",
		       r->acct->socket);
	else
		printf("%s server at %s (%s), port %d:\n",
		       r->acct->protocol == CONF_PROTO_LMTP ? "LMTP" : "SMTP",
		       r->acct->host, s->peer, r->acct->port);
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

static int main_auth_wanted(const struct account *a)
{
	return a->auth != NULL && strcmp(a->auth, "off") != 0;
}

/* The delivery record for logfile/syslog (msmtp's field names). */
static void main_log(const struct run *r, int code, const struct err *e)
{
	const struct account *a = r->acct;
	struct buf b;
	size_t i;

	if (a == NULL || (!a->logfile && !(a->syslog && strcmp(a->syslog, "off"))))
		return;
	log_configure(a->logfile, a->logfile_time_format, a->syslog);
	buf_init(&b, LOG_RECORD_MAX);
	if (a->socket)
		buf_printf(&b, "socket=%s", a->socket);
	else
		buf_printf(&b, "host=%s", a->host ? a->host : "");
	buf_printf(&b, " tls=%s auth=%s", r->res.tls_used ? "on" : "off",
		   main_auth_wanted(a) ? "on" : "off");
	if (a->user)
		buf_printf(&b, " user=%s", a->user);
	if (r->from)
		buf_printf(&b, " from=%s", r->from);
	buf_printf(&b, " recipients=");
	for (i = 0; i < r->rcpts.n; i++)
		buf_printf(&b, "%s%s", i ? "," : "", r->rcpts.v[i]);
	if (code == 0 && r->queued_id[0])
		buf_printf(&b, " queued=%s", r->queued_id);
	else if (code == 0)
		buf_printf(&b, " mailsize=%llu", (unsigned long long)r->res.size);
	if (r->res.smtp_code) {
		char t[1024];
		size_t j;

		snprintf(t, sizeof t, "%s", r->res.smtp_text);
		for (j = 0; t[j]; j++)
			if (t[j] == '\'')
				t[j] = '?';
		buf_printf(&b, " smtpstatus=%d smtpmsg='%s'", r->res.smtp_code, t);
	}
	if (code != 0 && e->msg[0]) {
		char t[ERR_MSG_MAX];
		size_t j;

		snprintf(t, sizeof t, "%s", e->msg);
		for (j = 0; t[j]; j++)
			if (t[j] == '\'')
				t[j] = '?';
		buf_printf(&b, " errormsg='%s'", t);
	}
	buf_printf(&b, " exitcode=%s", err_code_name(code));
	log_record(buf_str(&b), code != 0);
	buf_free(&b);
}

/* Pick the account (--host: the command line alone), apply the
 * command-line settings on top and derive the defaults. */
static int main_choose_account(struct run *r, const char *given,
			       struct err *e)
{
	size_t i;

	if (r->o.host_given)
		r->acct = conf_account_new("command line");
	else
		r->acct = conf_select(&r->conf, r->o.account, given, e);
	if (r->acct == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	for (i = 0; i < r->o.nsettings; i++)
		if (conf_account_set(r->acct, r->o.settings[i].cmd,
				     r->o.settings[i].arg, "command line", e) < 0)
			return -1;
	return deliver_prepare_account(r->acct, e);
}

/* The one-line note on stderr (and in the log) for a queued message. */
static void main_note_queued(struct run *r, const char *why)
{
	fprintf(stderr, "%s: message queued as %s%s%s; it will be retried "
		"('msmtp -q' sends it now)\n", log_prog(), r->queued_id,
		why ? " after a temporary failure: " : "", why ? why : "");
}

/* Sendmail -odb: deliver the queued entry from a detached child. */
static void main_background_flush(struct run *r)
{
	struct deliver_filter f;
	struct deliver_stats st;
	struct err e;
	pid_t pid = fork();

	if (pid != 0)
		return;         /* the parent (or a failed fork) returns */
	setsid();
	if (fork() != 0)
		_exit(0);
	{
		int fd = open("/dev/null", O_RDWR);

		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
	}
	memset(&f, 0, sizeof f);
	f.id = r->queued_id;
	err_init(&e);
	deliver_flush(&r->conf, &f, &st, &e);
	_exit(0);
}

/* Queue the message; a failure to do so is the error that counts. */
static int main_enqueue(struct run *r, const char *why, struct err *e)
{
	return deliver_enqueue(r->acct, r->from, r->rcpts.v, r->rcpts.n, r->msg,
			       why, r->res.maybe_delivered, r->queued_id,
			       sizeof r->queued_id, e);
}

/* Deliver now; on a temporary failure queue it when the account says
 * so.  With -odq/-odb, or `queue always`, the queue comes first. */
static int main_deliver(struct run *r, struct err *e)
{
	struct deliver_job job;
	struct err le;
	int queue_first = r->o.delivery_mode == 'q' || r->o.delivery_mode == 'b'
		|| r->acct->queue == CONF_QUEUE_ALWAYS;
	int rc;

	if (queue_first) {
		if (main_enqueue(r, NULL, e) < 0)
			return -1;
		if (r->o.delivery_mode == 'q' || r->o.delivery_mode == 'b') {
			if (r->o.delivery_mode == 'b')
				main_background_flush(r);
			return 0;
		}
	}
	memset(&job, 0, sizeof job);
	job.conf = &r->conf;
	job.acct = r->acct;
	job.from = r->from;
	job.rcpts = r->rcpts.v;
	job.nrcpts = r->rcpts.n;
	job.msg = r->msg;
	r->session_tried = 1;
	err_init(&le);
	if (!queue_first && r->acct->queue != CONF_QUEUE_OFF
	    && r->acct->queue_opportunistic == CONF_ON)
		rc = deliver_send_and_flush(&job, &r->res, &r->used,
					    &r->used_owned, &le);
	else
		rc = deliver_send(&job, &r->res, &r->used, &r->used_owned, &le);
	if (rc < 0 && r->res.maybe_delivered && le.code != ERR_TEMPFAIL)
		err_recode(&le, ERR_TEMPFAIL);
	if (queue_first) {
		struct err qe;

		err_init(&qe);
		if (rc == 0 || le.code != ERR_TEMPFAIL) {
			/* settled now: the caller learns the outcome */
			deliver_queue_edit(&r->conf, r->queued_id, 1, &qe);
			r->queued_id[0] = '\0';
		} else {
			main_note_queued(r, le.msg);
			return 0;
		}
	}
	if (rc < 0 && le.code == ERR_TEMPFAIL && !queue_first
	    && r->acct->queue == CONF_QUEUE_TEMPFAIL) {
		if (main_enqueue(r, le.msg, e) < 0) {
			err_prefix(e, "%s; and", le.msg);
			return -1;
		}
		main_note_queued(r, le.msg);
		return 0;
	}
	if (rc < 0) {
		err_set(e, le.code, "%s", le.msg);
		return -1;
	}
	return 0;
}

static int main_send(struct run *r, struct err *e)
{
	struct msg_read_opts ro;
	char *hdr_from = NULL;
	const char *given = r->o.from;

	memset(&ro, 0, sizeof ro);
	ro.dot_ends_input = r->o.as_sendmail && !r->o.ignore_dots;
	if (msg_read(STDIN_FILENO, &ro, &r->msg, e) < 0)
		return -1;
	if (r->o.read_envelope_from) {
		if (msg_header_envelope_from(r->msg, &hdr_from, e) < 0)
			return -1;
		if (hdr_from == NULL)
			return err_set(e, ERR_DATAERR,
				       "no From header to read the envelope sender from");
		given = hdr_from;
	}
	if (main_choose_account(r, given, e) < 0
	    || main_envelope_from(r, given, e) < 0)
		goto fail;
	free(hdr_from);
	hdr_from = NULL;
	if (main_recipients(r, e) < 0 || main_rewrite(r, e) < 0)
		return -1;
	if (r->acct->proxy_host && *r->acct->proxy_host)
		return err_set(e, ERR_UNAVAILABLE,
			       "SOCKS proxies are not supported yet by this "
			       "build (account %s has 'proxy_host %s'); "
			       "refusing to connect directly", r->acct->name,
			       r->acct->proxy_host);
	return main_deliver(r, e);
fail:
	free(hdr_from);
	return -1;
}

/* -P and -S need an account but no message. */
static int main_account_only(struct run *r, struct err *e)
{
	if (main_choose_account(r, r->o.from, e) < 0)
		return -1;
	if (r->o.from && main_normalize_from(r->o.from, &r->from, e) < 0)
		return -1;
	return 0;
}

static int main_serverinfo(struct run *r, struct err *e)
{
	struct submit_params sp;

	if (main_account_only(r, e) < 0)
		return -1;
	memset(&sp, 0, sizeof sp);
	sp.acct = r->acct;
	sp.from = "";
	sp.serverinfo = 1;
	deliver_tls_params(r->acct, &sp);
	if (submit_run(&sp, &r->res, e) < 0)
		return -1;
	main_print_serverinfo(r);
	return 0;
}

/* -q / --queue-run: quiet unless --debug; a deferred message is not an
 * error of the run (it stays queued), a failure to read the queue is. */
static int main_flush(struct run *r, struct err *e)
{
	struct deliver_filter f;
	struct deliver_stats st;
	int rc;

	memset(&f, 0, sizeof f);
	f.due_only = r->o.mode == CLI_MODE_QUEUE_RUN;
	f.id = r->o.queue_id;
	f.rcpt = r->o.queue_rcpt;
	f.sender = r->o.queue_sender;
	rc = deliver_flush(&r->conf, &f, &st, e);
	log_debug("queue run: %d tried, %d delivered, %d deferred, %d failed, "
		  "%d busy or skipped", st.tried, st.delivered, st.deferred,
		  st.failed, st.skipped);
	return rc;
}

static int main_run(struct run *r, struct err *e)
{
	int rc = main_load_config(r, e);
	size_t i;

	for (i = 0; i < r->conf.nwarnings; i++)  /* files skipped as unreadable */
		log_warn("%s", r->conf.warnings[i]);
	if (rc < 0)
		return -1;
	switch (r->o.mode) {
	case CLI_MODE_PRETEND:
		if (main_account_only(r, e) < 0)
			return -1;
		main_pretend(r);
		return 0;
	case CLI_MODE_SERVERINFO:
		return main_serverinfo(r, e);
	case CLI_MODE_QUEUE_FLUSH:
	case CLI_MODE_QUEUE_RUN:
		return main_flush(r, e);
	case CLI_MODE_QUEUE_LIST:
		return deliver_list(&r->conf, e);
	case CLI_MODE_QUEUE_REMOVE:
	case CLI_MODE_QUEUE_RETRY:
		return deliver_queue_edit(&r->conf, r->o.queue_id,
					  r->o.mode == CLI_MODE_QUEUE_REMOVE, e);
	default:
		return main_send(r, e);
	}
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
	addr_list_init(&r.rcpts);
	log_set_prog("msmtp");

	if (cli_parse(argc, argv, &r.o, &e) < 0) {
		log_error("%s", e.msg);
		fprintf(stderr, "%s\n", cli_usage_hint());
		cli_opts_free(&r.o);
		return ERR_USAGE;
	}
	log_set_debug(r.o.debug);
	if (r.o.print_version_too || r.o.mode == CLI_MODE_VERSION)
		main_print_version();
	if (r.o.mode == CLI_MODE_VERSION || r.o.mode == CLI_MODE_HELP) {
		if (r.o.mode == CLI_MODE_HELP)
			fputs(cli_help_text(), stdout);
		cli_opts_free(&r.o);
		return fflush(stdout) == 0 ? 0 : ERR_IOERR;
	}

	code = main_run(&r, &e) < 0 ? e.code : 0;
	if (code != 0)
		log_error("%s", e.msg);
	if (r.session_tried || (code == ERR_CONFIG && r.acct != NULL))
		main_log(&r, code, &e);
	if (fflush(stdout) != 0 && code == 0)
		code = ERR_IOERR;

	addr_list_free(&r.rcpts);
	secret_free(r.password);
	submit_result_free(&r.res);
	if (r.used_owned)
		conf_account_free(r.used);
	free(r.from);
	msg_free(r.msg);
	conf_account_free(r.acct);
	conf_free(&r.conf);
	cli_opts_free(&r.o);
	return code;
}
