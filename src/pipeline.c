/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "pipeline.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "aliases.h"
#include "buf.h"
#include "deliver.h"
#include "gate.h"
#include "log.h"
#include "qrun.h"

void pipeline_result_init(struct pipeline_result *r)
{
	memset(r, 0, sizeof *r);
	addr_list_init(&r->rcpts);
}

void pipeline_result_free(struct pipeline_result *r)
{
	addr_list_free(&r->rcpts);
	outcome_free(&r->outcome);
	submit_info_free(&r->info);
	free(r->from);
	conf_account_free(r->acct);
	memset(r, 0, sizeof *r);
}

/* ---- account and envelope ---------------------------------------------- */

/* Pick the account (--host: the command line alone), apply the
 * command-line settings on top and derive the defaults. */
static int pipeline_choose_account(const struct pipeline_req *rq,
				   const char *given,
				   struct pipeline_result *res, struct err *e)
{
	size_t i;

	if (rq->host_given)
		res->acct = conf_account_new("command line");
	else
		res->acct = conf_select(rq->conf, rq->account, given, e);
	if (res->acct == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	for (i = 0; i < rq->nsettings; i++)
		if (conf_account_set(res->acct, rq->settings[i].cmd,
				     rq->settings[i].arg, "command line", e) < 0)
			return -1;
	return gate_prepare_account(res->acct, e);
}

/* "<>" and MAILER-DAEMON mean the null sender (sendmail convention); a
 * "Name <addr>" form is reduced to its address. */
static int pipeline_normalize_from(const char *in, char **out, struct err *e)
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
static int pipeline_expand_from_header(const struct msg *m, const char *from,
				       char **out, struct err *e)
{
	const char *p = strstr(from, "%F");
	char *hdr = NULL;
	struct buf b;

	if (p == NULL) {
		*out = strdup(from);
		return *out ? 0 : err_set(e, ERR_OSERR, "out of memory");
	}
	if (m == NULL)
		return err_set(e, ERR_CONFIG, "the envelope sender '%s' needs "
			       "the message's From header (%%F)", from);
	if (msg_header_envelope_from(m, &hdr, e) < 0)
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
static int pipeline_envelope_from(const struct msg *m, const char *given,
				  struct pipeline_result *res, struct err *e)
{
	const struct account *a = res->acct;
	char *expanded = NULL;
	int rc;

	if (given != NULL && (a->allow_from_override != CONF_OFF
			      || a->from == NULL || conf_from_is_pattern(a->from)))
		return pipeline_normalize_from(given, &res->from, e);
	if (a->from == NULL || conf_from_is_pattern(a->from))
		return err_set(e, ERR_CONFIG,
			       "envelope-from address is missing (set 'from' in "
			       "account %s or use -f)", a->name);
	if (pipeline_expand_from_header(m, a->from, &expanded, e) < 0)
		return -1;
	rc = pipeline_normalize_from(expanded, &res->from, e);
	free(expanded);
	if (rc < 0)
		err_recode(e, ERR_CONFIG);
	return rc;
}

static int pipeline_recipients(const struct pipeline_req *rq,
			       const struct msg *m,
			       struct pipeline_result *res, struct err *e)
{
	char shown[BUF_SHOW_SIZE];
	size_t i;

	for (i = 0; i < rq->nrecipients; i++) {
		const char *w = rq->recipients[i];

		if (addr_parse_list(w, strlen(w), &res->rcpts, e) < 0) {
			if (e->code == ERR_OSERR)       /* not the word's fault */
				return -1;
			err_recode(e, ERR_USAGE);
			err_prefix(e, "invalid recipient '%s'",
				   buf_show(shown, sizeof shown, w, strlen(w)));
			return -1;
		}
	}
	if (rq->read_recipients
	    && msg_header_recipients(m, &res->rcpts, e) < 0)
		return -1;
	/* aliases rewrite the envelope only; headers stay as written */
	if (res->acct->aliases
	    && aliases_expand(res->acct->aliases, &res->rcpts, e) < 0)
		return -1;
	for (i = 0; i < res->rcpts.n; i++)
		if (addr_check_envelope(res->rcpts.v[i], e) < 0)
			return -1;
	if (res->rcpts.n == 0)
		return err_set(e, ERR_USAGE, "no recipients found");
	return 0;
}

/* Message-ID right-hand side: the configured domain, unless it is the
 * uninformative default, then the sender's domain. */
static const char *pipeline_msgid_domain(const struct pipeline_result *res)
{
	const char *at = strrchr(res->from, '@');
	const char *dom = res->acct->domain;

	if ((dom == NULL || strcmp(dom, "localhost") == 0)
	    && at != NULL && at[1] != '\0')
		return at + 1;
	return dom ? dom : "localhost";
}

static int pipeline_rewrite(const struct pipeline_req *rq, struct msg *m,
			    struct pipeline_result *res, struct err *e)
{
	struct msg_rewrite rw;
	const struct account *a = res->acct;

	memset(&rw, 0, sizeof rw);
	rw.set_from_header = a->set_from_header;
	rw.from_addr = res->from;
	rw.full_name = rq->full_name ? rq->full_name : a->from_full_name;
	rw.set_date_header = a->set_date_header;
	rw.set_msgid_header = a->set_msgid_header;
	rw.msgid_domain = pipeline_msgid_domain(res);
	rw.set_to_header = a->set_to_header;
	rw.rcpts = &res->rcpts;
	rw.remove_bcc_headers = a->remove_bcc_headers == CONF_ON;
	return msg_rewrite(m, &rw, e);
}

int pipeline_account(const struct pipeline_req *rq,
		     struct pipeline_result *res, struct err *e)
{
	if (pipeline_choose_account(rq, rq->from, res, e) < 0)
		return -1;
	if (rq->from && pipeline_normalize_from(rq->from, &res->from, e) < 0)
		return -1;
	return 0;
}

/* One argv word of -bv: its addresses after aliases, each judged. */
static int pipeline_verify_word(const struct pipeline_result *res,
				const char *word, FILE *out, struct err *oe)
{
	const struct account *a = res->acct;
	struct addr_list l;
	struct err e;
	size_t i;
	int bad = 0;

	addr_list_init(&l);
	err_init(&e);
	if (addr_parse_list(word, strlen(word), &l, &e) < 0
	    || (a->aliases && aliases_expand(a->aliases, &l, &e) < 0)) {
		char shown[BUF_SHOW_SIZE];

		addr_list_free(&l);
		if (e.code == ERR_OSERR)        /* not the word's fault */
			return err_set(oe, ERR_OSERR, "out of memory");

		fprintf(out, "%s... undeliverable: %s\n",
			buf_show(shown, sizeof shown, word, strlen(word)), e.msg);
		return 1;
	}
	for (i = 0; i < l.n; i++) {
		err_init(&e);
		if (addr_check_envelope(l.v[i], &e) < 0 && e.code == ERR_OSERR) {
			addr_list_free(&l);
			return err_set(oe, ERR_OSERR, "out of memory");
		}
		if (err_isset(&e)) {
			fprintf(out, "%s... undeliverable: %s\n", l.v[i], e.msg);
			bad = 1;
		} else {
			fprintf(out, "%s... deliverable: account %s, %s %s, "
				"envelope sender <%s>\n", l.v[i], a->name,
				a->socket ? "socket" : "host",
				a->socket ? a->socket : a->host, res->from);
		}
	}
	if (l.n == 0) {
		fprintf(out, "%s... undeliverable: no address\n", word);
		bad = 1;
	}
	addr_list_free(&l);
	return bad;
}

int pipeline_verify(const struct pipeline_req *rq,
		    struct pipeline_result *res, FILE *out, struct err *e)
{
	size_t i;
	int bad = 0;

	if (pipeline_choose_account(rq, rq->from, res, e) < 0
	    || pipeline_envelope_from(NULL, rq->from, res, e) < 0)
		return -1;
	for (i = 0; i < rq->nrecipients; i++) {
		int r = pipeline_verify_word(res, rq->recipients[i], out, e);

		if (r < 0)
			return -1;
		bad |= r;
	}
	if (rq->nrecipients == 0)
		return err_set(e, ERR_USAGE, "no recipients to verify");
	return bad ? err_set(e, ERR_DATAERR, "some recipients are not "
			     "deliverable") : 0;
}

/* ---- deliver or queue --------------------------------------------------- */

static void pipeline_note_queued(struct pipeline_result *res, const char *why)
{
	snprintf(res->note, sizeof res->note, "message queued as %s%s%s; it "
		 "will be retried ('msmtp -q' sends it now)", res->queued_id,
		 why ? " after a failure: " : "", why ? why : "");
}

static struct qrun_ctx pipeline_qrun_ctx(const struct pipeline_req *rq)
{
	struct qrun_ctx cx;

	cx.conf = rq->conf;
	cx.conf_file = rq->conf_file;
	return cx;
}

/* Sendmail -odb: deliver the queued entry from a detached child. */
static void pipeline_background_flush(const struct pipeline_req *rq,
				      const char *id)
{
	struct qrun_ctx cx = pipeline_qrun_ctx(rq);
	struct qrun_filter f;
	struct qrun_stats st;
	struct err e;
	pid_t pid;
	int fd;

	fflush(stdout);
	pid = fork();
	if (pid != 0)
		return;         /* the parent (or a failed fork) returns */
	setsid();
	if (fork() != 0)
		_exit(0);
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
	}
	memset(&f, 0, sizeof f);
	f.id = id;
	err_init(&e);
	qrun_flush(&cx, &f, &st, &e);
	_exit(0);
}

static int pipeline_enqueue(const struct pipeline_req *rq, struct msg *m,
			    struct pipeline_result *res,
			    const struct outcome *after, struct err *e)
{
	struct deliver_enqueue_req q;

	memset(&q, 0, sizeof q);
	q.acct = res->acct;
	q.config = rq->conf_file;
	q.from = res->from;
	q.rcpts = res->rcpts.v;
	q.nrcpts = res->rcpts.n;
	q.msg = m;
	q.after = after;
	return deliver_enqueue(&q, res->queued_id, sizeof res->queued_id, e);
}

/* One attempt now (with failover, and with the account's due queued
 * messages over the same connection when the queue is on). */
static void pipeline_send(const struct pipeline_req *rq, struct msg *m,
			  struct pipeline_result *res, int queue_first,
			  const struct account **used, int *used_owned)
{
	struct qrun_ctx cx = pipeline_qrun_ctx(rq);
	struct deliver_job job;

	memset(&job, 0, sizeof job);
	job.conf = rq->conf;
	job.acct = res->acct;
	job.from = res->from;
	job.rcpts = res->rcpts.v;
	job.nrcpts = res->rcpts.n;
	job.msg = m;
	res->attempted = 1;
	if (!queue_first && res->acct->queue != CONF_QUEUE_OFF
	    && res->acct->queue_opportunistic == CONF_ON)
		qrun_send_and_flush(&cx, &job, &res->outcome, &res->info, used,
				    used_owned);
	else
		deliver_send(&job, &res->outcome, &res->info, used, used_owned);
}

/* The error the caller gets for an outcome that is not a success. */
static int pipeline_failed(const struct outcome *o, struct err *e)
{
	err_set(e, outcome_exit_code(o), "%s", o->err.msg[0]
		? o->err.msg : "the message was not delivered");
	err_hint_copy(e, &o->err);
	return -1;
}

/* Deliver now; after a temporary failure store it when the account says
 * `queue tempfail`.  With -odq/-odb, or `queue always`, the queue comes
 * first and keeps the message unless it was delivered or refused for
 * good. */
static int pipeline_deliver(const struct pipeline_req *rq, struct msg *m,
			    struct pipeline_result *res,
			    const struct account **used, int *used_owned,
			    struct err *e)
{
	const struct outcome *o = &res->outcome;
	int mode = rq->delivery_mode;
	int queue_first = mode == 'q' || mode == 'b'
		|| res->acct->queue == CONF_QUEUE_ALWAYS;
	int kept;

	if (queue_first) {
		if (pipeline_enqueue(rq, m, res, NULL, e) < 0)
			return -1;
		if (mode == 'q' || mode == 'b') {
			if (mode == 'b')
				pipeline_background_flush(rq, res->queued_id);
			return 0;
		}
	}
	pipeline_send(rq, m, res, queue_first, used, used_owned);
	if (queue_first) {
		if (deliver_update_entry(res->acct, res->queued_id, o, &kept,
					 e) < 0)
			return -1;
		if (kept) {
			pipeline_note_queued(res, o->err.msg);
			return 0;
		}
		res->queued_id[0] = '\0';
	} else if (!outcome_delivered(o) && outcome_retry_later(o)
		   && res->acct->queue == CONF_QUEUE_TEMPFAIL) {
		if (pipeline_enqueue(rq, m, res, o, e) < 0) {
			err_prefix(e, "%s; and", o->err.msg);
			return -1;
		}
		pipeline_note_queued(res, o->err.msg);
		return 0;
	}
	return outcome_delivered(o) ? 0 : pipeline_failed(o, e);
}

/* The delivery record, for what got as far as an account. */
static void pipeline_log(const struct account *a, struct pipeline_result *res,
			 int rc, const struct err *e)
{
	struct outcome none;

	if (a == NULL)
		return;
	if (res->attempted || res->queued_id[0]) {
		deliver_log(a, res->from, res->rcpts.v, res->rcpts.n,
			    &res->outcome, res->queued_id);
	} else if (rc < 0 && e->code == ERR_CONFIG) {
		memset(&none, 0, sizeof none);
		outcome_session_failure(&none, e);
		deliver_log(a, res->from, res->rcpts.v, res->rcpts.n, &none,
			    NULL);
	}
}

int pipeline_run(const struct pipeline_req *rq, struct msg *m,
		 struct pipeline_result *res, struct err *e)
{
	const struct account *used = NULL;
	char *hdr_from = NULL;
	const char *given = rq->from;
	int owned = 0, rc = -1;

	if (rq->read_envelope_from) {
		if (msg_header_envelope_from(m, &hdr_from, e) < 0)
			return -1;
		if (hdr_from == NULL)
			return err_set(e, ERR_DATAERR,
				       "no From header to read the envelope sender from");
		given = hdr_from;
	}
	if (pipeline_choose_account(rq, given, res, e) < 0
	    || pipeline_envelope_from(m, given, res, e) < 0)
		goto done;
	if (pipeline_recipients(rq, m, res, e) < 0
	    || pipeline_rewrite(rq, m, res, e) < 0)
		goto done;
	rc = pipeline_deliver(rq, m, res, &used, &owned, e);
done:
	pipeline_log(used ? used : res->acct, res, rc, e);
	if (owned)
		conf_account_free((struct account *)used);
	free(hdr_from);
	return rc;
}
