/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "deliver.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "gate.h"
#include "jsonl.h"
#include "log.h"

#define DELIVER_BACKOFF_MAX (24 * 3600)

/* ---- sending with failover -------------------------------------------- */

/* The next existing failover account named after position *pos of the
 * primary's list, prepared; NULL at the end of the list (or on error,
 * with err set).  Names have no length limit. */
static struct account *deliver_failover(const struct conf *c,
					const struct account *primary,
					size_t *pos, struct err *e)
{
	const char *list = primary->failover;

	while (list && list[*pos]) {
		size_t start, len;
		char *name;
		const struct account *f;
		struct account *copy;

		*pos += strspn(list + *pos, ", \t");
		start = *pos;
		*pos += strcspn(list + *pos, ",");
		len = *pos - start;
		while (len > 0 && (list[start + len - 1] == ' '
				   || list[start + len - 1] == '\t'))
			len--;
		if (len == 0)
			continue;
		name = strndup(list + start, len);
		if (name == NULL) {
			err_set(e, ERR_OSERR, "out of memory");
			return NULL;
		}
		f = c ? conf_find(c, name) : NULL;
		if (f == NULL) {
			log_warn("failover account %s does not exist", name);
			free(name);
			continue;
		}
		free(name);
		copy = conf_account_dup(f);
		if (copy == NULL) {
			err_set(e, ERR_OSERR, "out of memory");
			return NULL;
		}
		if (gate_prepare_account(copy, e) < 0) {
			conf_account_free(copy);
			return NULL;
		}
		return copy;
	}
	return NULL;
}

/* One attempt with one account; the outcome is always settled. */
static void deliver_attempt(const struct deliver_job *job,
			    const struct account *a, struct outcome *o,
			    struct submit_info *info)
{
	struct submit_msg m;
	struct gate g;
	struct err e;

	err_init(&e);
	memset(info, 0, sizeof *info);
	if (gate_open(&g, a, 1, &e) < 0) {
		gate_close(&g);
		outcome_free(o);
		outcome_init(o, job->nrcpts, &e);
		outcome_session_failure(o, &e);
		o->size = job->msg ? msg_wire_size(job->msg) : 0;
		return;
	}
	memset(&m, 0, sizeof m);
	m.from = job->from;
	m.rcpts = job->rcpts;
	m.nrcpts = job->nrcpts;
	m.msg = job->msg;
	m.force_partial = job->force_partial;
	outcome_free(o);
	submit_message(&g, &m, o, info);
	gate_close(&g);
}

/* The next failover account after a failed attempt, or NULL (a failure
 * to make it is warned about).  Out of line: its struct err is not on
 * the stack while an attempt runs (the deepest path of a send). */
static struct account *deliver_next(const struct deliver_job *job,
				    const struct outcome *o, size_t *pos)
	__attribute__((noinline));
static struct account *deliver_next(const struct deliver_job *job,
				    const struct outcome *o, size_t *pos)
{
	struct account *next;
	struct err fe;

	if (!outcome_try_elsewhere(o))
		return NULL;
	err_init(&fe);
	next = deliver_failover(job->conf, job->acct, pos, &fe);
	if (next == NULL && err_isset(&fe))
		log_warn("failover: %s", fe.msg);
	return next;
}

int deliver_send(const struct deliver_job *job, struct outcome *o,
		 struct submit_info *info, const struct account **used,
		 int *used_owned)
{
	const struct account *a = job->acct;
	struct account *next;
	size_t pos = 0;
	int owned = 0;

	for (;;) {
		deliver_attempt(job, a, o, info);
		next = deliver_next(job, o, &pos);
		if (next == NULL) {
			*used = a;
			*used_owned = owned;
			return outcome_delivered(o) ? 0 : -1;
		}
		log_warn("account %s failed (%s); trying account %s", a->name,
			 o->err.msg, next->name);
		if (owned)
			conf_account_free((struct account *)a);
		a = next;
		owned = 1;
	}
}

/* ---- where queues live -------------------------------------------------- */

/* The system-wide spool: one 0700 directory per uid inside a root-owned
 * sticky directory that others cannot list (mode 1733), created by the
 * administrator.  MSMTP_SYSTEM_QUEUE overrides the place (tests). */
const char *deliver_spool(void)
{
	const char *s = getenv("MSMTP_SYSTEM_QUEUE");

	return s && *s == '/' ? s : LOCALSTATEDIR "/spool/msmtp";
}

/* A home directory that belongs to someone else (www-data's /var/www,
 * nobody's /nonexistent) is no place for mail: a web server may serve it. */
static int deliver_home_is_ours(void)
{
	const char *home = getenv("HOME");
	struct stat st;

	return home && *home == '/' && stat(home, &st) == 0
		&& S_ISDIR(st.st_mode) && st.st_uid == geteuid();
}

static int deliver_in_spool(const char *dir)
{
	size_t n = strlen(deliver_spool());

	return strncmp(dir, deliver_spool(), n) == 0 && dir[n] == '/';
}

/* The spool parent must be root's, sticky and unlistable by others, so
 * users can neither see nor replace each other's directories. */
int deliver_open_queue(const char *dir, struct queue **q, struct err *e)
{
	struct stat st;
	const char *spool = deliver_spool();

	if (deliver_in_spool(dir)) {
		if (stat(spool, &st) < 0)
			return err_set(e, ERR_CANTCREAT, "the system queue %s does "
				       "not exist; an administrator creates it with "
				       "'install -d -m 1733 -o root %s'", spool, spool);
		if (!S_ISDIR(st.st_mode) || st.st_uid != 0
		    || !(st.st_mode & S_ISVTX) || (st.st_mode & S_IROTH))
			return err_set(e, ERR_CANTCREAT, "the system queue %s must "
				       "be a root-owned directory with mode 1733 "
				       "(it is %04o)", spool,
				       (unsigned)(st.st_mode & 07777));
	}
	return queue_open(dir, q, e);
}

char *deliver_queue_dir(const struct account *a)
{
	const char *state = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	struct buf path;
	int r;

	if (a && a->queue_dir && *a->queue_dir)
		return strdup(a->queue_dir);
	buf_init(&path, PATH_MAX);
	if ((a && !conf_account_from_user_file(a)) || !deliver_home_is_ours())
		r = buf_printf(&path, "%s/%ld", deliver_spool(),
			       (long)geteuid());
	else if (state && *state == '/')
		r = buf_printf(&path, "%s/msmtp/queue", state);
	else
		r = buf_printf(&path, "%s/.local/state/msmtp/queue",
			       home && *home ? home : "/nonexistent");
	if (r < 0) {            /* never a wrong (empty) directory */
		buf_free(&path);
		return NULL;
	}
	return buf_steal(&path);
}

/* ---- the queue ---------------------------------------------------------- */

static enum queue_rcpt_state deliver_rcpt_state(enum outcome_rcpt_state s,
						int final)
{
	if (s == OUTCOME_RCPT_DELIVERED)
		return QUEUE_DELIVERED;
	if (s == OUTCOME_RCPT_PERMANENT && final)
		return QUEUE_FAILED;
	return QUEUE_PENDING;
}

void deliver_record(struct queue_entry *ent, const size_t *map,
		    const struct outcome *o, int backoff)
{
	/* a session failure says nothing about this message's recipients */
	int final = o->scope != OUTCOME_SESSION || o->cls == OUTCOME_DELIVERED;
	time_t now = time(NULL);
	long delay;
	int shift;
	size_t i;

	for (i = 0; i < o->nrcpts; i++) {
		struct queue_rcpt *r = &ent->rcpts[map ? map[i] : i];
		const struct outcome_rcpt *or = &o->rcpt[i];

		if (r->state != QUEUE_PENDING)
			continue;
		if (or->text[0]) {
			char *t = strdup(or->text);

			if (t != NULL) {
				free(r->reply);
				r->reply = t;
			}
		}
		r->state = deliver_rcpt_state(or->state, final);
	}
	if (ent->attempts < 1000000)
		ent->attempts++;
	if (o->cls == OUTCOME_MAYBE_DELIVERED)
		ent->maybe_duplicate = 1;
	if (o->cls != OUTCOME_DELIVERED && o->err.msg[0]) {
		char *t = strdup(o->err.msg);

		if (t != NULL) {
			free(ent->last_error);
			ent->last_error = t;
		}
	}
	shift = ent->attempts > 1 ? ent->attempts - 1 : 0;
	if (shift > 16)
		shift = 16;
	delay = (long)(backoff > 0 ? backoff : 1) << shift;
	ent->next = now + (delay > DELIVER_BACKOFF_MAX ? DELIVER_BACKOFF_MAX
			   : delay);
}

/* A fresh envelope for the request (every recipient pending). */
static int deliver_new_entry(const struct deliver_enqueue_req *rq,
			     struct queue_entry *ent, struct err *e)
{
	const struct account *a = rq->acct;
	size_t i;

	memset(ent, 0, sizeof *ent);
	queue_new_id(ent);
	ent->account = strdup(a->name);
	ent->from = strdup(rq->from ? rq->from : "");
	ent->rcpts = calloc(rq->nrcpts + 1, sizeof *ent->rcpts);
	if (ent->account == NULL || ent->from == NULL || ent->rcpts == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	for (; ent->nrcpts < rq->nrcpts; ent->nrcpts++) {
		i = ent->nrcpts;
		ent->rcpts[i].state = QUEUE_PENDING;
		if ((ent->rcpts[i].addr = strdup(rq->rcpts[i])) == NULL)
			return err_set(e, ERR_OSERR, "out of memory");
	}
	if ((rq->config && (ent->config = strdup(rq->config)) == NULL)
	    || (a->dsn_notify && strcmp(a->dsn_notify, "off")
		&& (ent->dsn_notify = strdup(a->dsn_notify)) == NULL)
	    || (a->dsn_return && strcmp(a->dsn_return, "off")
		&& (ent->dsn_return = strdup(a->dsn_return)) == NULL))
		return err_set(e, ERR_OSERR, "out of memory");
	ent->queued = time(NULL);
	ent->next = ent->queued;
	ent->size = msg_wire_size(rq->msg);
	return 0;
}

int deliver_enqueue(const struct deliver_enqueue_req *rq, char *idbuf,
		    size_t idlen, struct err *e)
{
	const struct account *a = rq->acct;
	struct queue_entry ent;
	struct queue *q = NULL;
	char *dir;
	int rc = -1;

	if (a->file == NULL || strcmp(a->file, "command line") == 0)
		return err_set(e, ERR_CONFIG, "cannot queue a message for an "
			       "account that is not in a configuration file");
	dir = deliver_queue_dir(a);
	if (dir == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	memset(&ent, 0, sizeof ent);
	if (deliver_open_queue(dir, &q, e) < 0
	    || deliver_new_entry(rq, &ent, e) < 0)
		goto done;
	if (rq->after)
		deliver_record(&ent, NULL, rq->after, a->queue_backoff);
	rc = queue_add(q, &ent, rq->msg, e);
	if (rc == 0)
		snprintf(idbuf, idlen, "%s", ent.id);
done:
	if (rc < 0)
		err_prefix(e, "the message could not be queued");
	queue_entry_clear(&ent);
	queue_close(q);
	free(dir);
	return rc;
}

int deliver_update_entry(const struct account *a, const char *id,
			 const struct outcome *o, int *kept, struct err *e)
{
	struct queue_entry ent;
	struct queue *q = NULL;
	char *dir = deliver_queue_dir(a);
	int lock = -1, rc = -1;

	*kept = 0;
	memset(&ent, 0, sizeof ent);
	if (dir == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	if (deliver_open_queue(dir, &q, e) < 0
	    || queue_lock(q, id, &lock, e) <= 0
	    || queue_load(q, id, &ent, e) != 1) {
		/* a concurrent flusher has it: it settles it */
		*kept = !err_isset(e);
		rc = err_isset(e) ? -1 : 0;
		goto done;
	}
	deliver_record(&ent, NULL, o, a->queue_backoff);
	if (queue_has_pending(&ent)) {
		*kept = 1;
		rc = queue_save(q, &ent, e);
	} else {
		/* delivered, or refused for good: the caller learns it now */
		rc = queue_remove(q, id, e);
	}
done:
	queue_entry_clear(&ent);
	queue_unlock(lock);
	queue_close(q);
	free(dir);
	return rc;
}

/* ---- the delivery record ------------------------------------------------ */

/* Append ` key='text'` with quotes in the text made harmless. */
static int deliver_log_quoted(struct buf *b, const char *key,
			      const char *text)
{
	int rc = buf_printf(b, " %s='", key);

	for (; rc == 0 && *text; text++)
		rc = buf_append_byte(b, *text == '\'' ? '?' : *text);
	return rc < 0 ? -1 : buf_append_byte(b, '\'');
}

/* The recipients field: the addresses, comma-separated. */
static int deliver_log_rcpt_list(struct buf *b, char *const *rcpts,
				 size_t nrcpts)
{
	size_t i;

	if (buf_printf(b, " recipients=") < 0)
		return -1;
	for (i = 0; i < nrcpts; i++)
		if (buf_printf(b, "%s%s", i ? "," : "", rcpts[i]) < 0)
			return -1;
	return 0;
}

/* msmtp's text record (host=... exitcode=...).  -1 when a piece of it
 * could not be added (no memory, or LOG_RECORD_MAX): nothing is logged
 * then, never a record with fields missing. */
static int deliver_log_text(const struct account *a, const char *from,
			    char *const *rcpts, size_t nrcpts,
			    const struct outcome *o, const char *queued_id,
			    int code)
{
	struct buf b;
	int bad;

	buf_init(&b, LOG_RECORD_MAX);
	bad = (a->socket ? buf_printf(&b, "socket=%s", a->socket)
	       : buf_printf(&b, "host=%s", a->host ? a->host : "")) < 0
		/* the account's setting, as msmtp logs it (also when the
		 * attempt never got as far as TLS) */
		|| buf_printf(&b, " tls=%s auth=%s",
			      a->tls == CONF_ON || o->tls_used ? "on" : "off",
			      a->auth && strcmp(a->auth, "off") ? "on"
			      : "off") < 0
		|| (a->user && buf_printf(&b, " user=%s", a->user) < 0)
		|| (from && buf_printf(&b, " from=%s", from) < 0)
		|| deliver_log_rcpt_list(&b, rcpts, nrcpts) < 0
		|| (queued_id && *queued_id
		    ? buf_printf(&b, " queued=%s", queued_id) < 0
		    : code == 0 && buf_printf(&b, " mailsize=%llu",
					      (unsigned long long)o->size) < 0)
		|| (o->smtp_code
		    && (buf_printf(&b, " smtpstatus=%d", o->smtp_code) < 0
			|| deliver_log_quoted(&b, "smtpmsg", o->smtp_text) < 0))
		|| (o->cls != OUTCOME_DELIVERED && o->err.msg[0]
		    && deliver_log_quoted(&b, "errormsg", o->err.msg) < 0)
		|| buf_printf(&b, " exitcode=%s", err_code_name(code)) < 0;
	if (!bad)
		log_record(buf_str(&b), code != 0);
	buf_free(&b);
	return bad ? -1 : 0;
}

static struct json_object *deliver_log_rcpts(char *const *rcpts,
					     size_t nrcpts)
{
	struct json_object *arr = jsonl_array_new();
	size_t i;

	for (i = 0; arr != NULL && i < nrcpts; i++)
		if (jsonl_array_add_str(arr, rcpts[i]) < 0) {
			jsonl_free(arr);
			return NULL;
		}
	return arr;
}

/* The same record as one JSON object (logfile_format json): the text
 * record's fields typed, null where the text leaves one out, plus the
 * account and the time.  -1 on ENOMEM. */
static int deliver_log_json(const struct account *a, const char *from,
			    char *const *rcpts, size_t nrcpts,
			    const struct outcome *o, const char *queued_id,
			    int code)
{
	int queued = queued_id && *queued_id, rc;
	struct json_object *j = jsonl_object_new();
	char *line = NULL;

	rc = j == NULL
		|| jsonl_add_time(j, "time", time(NULL))
		|| jsonl_add_str(j, "account", a->name)
		|| jsonl_add_str(j, "host", a->socket ? NULL : a->host)
		|| jsonl_add_str(j, "socket", a->socket)
		|| jsonl_add_bool(j, "tls", a->tls == CONF_ON || o->tls_used)
		|| jsonl_add_bool(j, "auth", a->auth && strcmp(a->auth, "off"))
		|| jsonl_add_str(j, "user", a->user)
		|| jsonl_add_str(j, "from", from)
		|| jsonl_add(j, "recipients", deliver_log_rcpts(rcpts, nrcpts))
		|| (!queued && code == 0
		    ? jsonl_add_int(j, "size", (long long)o->size)
		    : jsonl_add_null(j, "size"))
		|| (o->smtp_code ? jsonl_add_int(j, "smtp_status", o->smtp_code)
		    : jsonl_add_null(j, "smtp_status"))
		|| jsonl_add_str(j, "smtp_reply", o->smtp_code ? o->smtp_text
				 : NULL)
		|| jsonl_add_str(j, "error", o->cls != OUTCOME_DELIVERED
				 && o->err.msg[0] ? o->err.msg : NULL)
		|| jsonl_add_str(j, "exit_code", err_code_name(code))
		|| jsonl_add_str(j, "queue_id", queued ? queued_id : NULL)
		|| (line = jsonl_line(j)) == NULL ? -1 : 0;
	if (rc == 0)
		log_record(line, code != 0);
	free(line);
	jsonl_free(j);
	return rc;
}

/* The logfile gets the format the account chose; syslog keeps msmtp's
 * text (it has its own time and the line is what syslog readers
 * expect). */
void deliver_log(const struct account *a, const char *from,
		 char *const *rcpts, size_t nrcpts, const struct outcome *o,
		 const char *queued_id)
{
	int code = queued_id && *queued_id ? 0 : outcome_exit_code(o);
	int to_syslog;

	if (a == NULL)
		return;
	to_syslog = a->syslog && strcmp(a->syslog, "off") != 0;
	if (!a->logfile && !to_syslog)
		return;
	if (a->logfile && a->logfile_format == CONF_LOGFILE_JSON) {
		struct err je;

		err_init(&je);
		log_configure(a->logfile, "none", NULL);
		if (jsonl_ready(&je) < 0)
			log_warn("cannot log to %s: %s", a->logfile, je.msg);
		else if (deliver_log_json(a, from, rcpts, nrcpts, o, queued_id,
					  code) < 0)
			log_warn("cannot log to %s: out of memory", a->logfile);
		if (!to_syslog)
			return;
		log_configure(NULL, NULL, a->syslog);
	} else {
		log_configure(a->logfile, a->logfile_time_format, a->syslog);
	}
	if (deliver_log_text(a, from, rcpts, nrcpts, o, queued_id, code) < 0)
		log_warn("cannot log to %s: %s", a->logfile ? a->logfile
			 : "syslog", errno == ENOMEM ? "out of memory"
			 : "the record is too long");
}
