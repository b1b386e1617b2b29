/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "qrun.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "gate.h"
#include "jsonl.h"
#include "log.h"

/* ---- which entries ------------------------------------------------------ */

static void qrun_dirs_free(char **dirs, size_t n);

/* Every queue directory named by the configuration, plus the default;
 * only those that exist.  *n entries, malloc'd; NULL when out of memory
 * (never a list with a directory silently left out). */
static char **qrun_dirs(const struct conf *c, size_t *n)
{
	size_t cap = (c ? c->n : 0) + 2, i, j;
	char **dirs = calloc(cap, sizeof *dirs);

	*n = 0;
	if (dirs == NULL)
		return NULL;
	for (i = 0; i <= (c ? c->n : 0); i++) {
		char *d = deliver_queue_dir(c && i < c->n ? c->v[i] : NULL);
		struct stat st;

		if (d == NULL) {
			qrun_dirs_free(dirs, *n);
			return NULL;
		}
		if (stat(d, &st) < 0) {
			free(d);
			continue;
		}
		for (j = 0; j < *n && strcmp(dirs[j], d) != 0; j++)
			;
		if (j < *n)
			free(d);
		else
			dirs[(*n)++] = d;
	}
	return dirs;
}

static void qrun_dirs_free(char **dirs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(dirs[i]);
	free(dirs);
}

static int qrun_matches(const struct queue_entry *ent,
			const struct qrun_filter *f, time_t now)
{
	size_t i;

	if (f->id && strcmp(f->id, ent->id) != 0)
		return 0;
	if (f->due_only && ent->next > now)
		return 0;
	if (f->sender && strstr(ent->from, f->sender) == NULL)
		return 0;
	if (f->account && strcmp(f->account, ent->account) != 0)
		return 0;
	if (f->rcpt) {
		for (i = 0; i < ent->nrcpts; i++)
			if (ent->rcpts[i].state == QUEUE_PENDING
			    && strstr(ent->rcpts[i].addr, f->rcpt))
				return 1;
		return 0;
	}
	return 1;
}

/* Two configuration names are the same configuration (NULL = the
 * default files). */
static int qrun_same_config(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* ---- failure reports ---------------------------------------------------- */

struct qrun_notes {
	char **to, **text;
	size_t n;
};

/* The failure report for the sender (queue_notify on): plain text, null
 * envelope sender (RFC 5321 6.1) so a report can never bounce back and
 * forth. */
static char *qrun_report(const struct account *a,
			 const struct queue_entry *ent, const char *reason)
{
	struct buf b;
	const char *at = a->from ? strrchr(a->from, '@') : NULL;
	char date[64];
	size_t i;

	msg_format_date(time(NULL), date, sizeof date);
	buf_init(&b, 1024 * 1024);
	buf_printf(&b, "From: Mail Delivery System <MAILER-DAEMON@%s>\n"
		   "To: <%s>\nSubject: Undelivered mail (queue id %s)\n"
		   "Date: %s\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\n"
		   "Content-Type: text/plain; charset=utf-8\n\n"
		   "Your message (queue id %s) could not be delivered to every "
		   "recipient.\n\n", at ? at + 1 : "localhost", ent->from,
		   ent->id, date, ent->id);
	for (i = 0; i < ent->nrcpts; i++)
		if (ent->rcpts[i].state != QUEUE_DELIVERED)
			buf_printf(&b, "  <%s>: %s\n", ent->rcpts[i].addr,
				   ent->rcpts[i].reply ? ent->rcpts[i].reply
				   : "not delivered");
	buf_printf(&b, "\nReason: %s\n", reason);
	return buf_steal(&b);
}

/* Send one report now; nothing is queued for a report that fails (a
 * report about a report would be noise). */
static void qrun_send_report(const struct account *a, const char *to,
			     const char *text)
{
	struct msg_read_opts ro;
	struct deliver_job job;
	struct submit_info info;
	struct outcome o;
	const struct account *used = NULL;
	struct msg *m = NULL;
	struct err e;
	char *rcpt[1];
	int owned = 0, fd = memfd_create("msmtp-report", MFD_CLOEXEC);

	err_init(&e);
	memset(&ro, 0, sizeof ro);
	memset(&o, 0, sizeof o);
	memset(&info, 0, sizeof info);
	if (fd < 0 || msg_write_all(fd, text, strlen(text)) < 0
	    || lseek(fd, 0, SEEK_SET) < 0 || msg_read(fd, &ro, &m, &e) < 0) {
		log_error("cannot build the failure report for <%s>", to);
	} else {
		rcpt[0] = (char *)to;
		memset(&job, 0, sizeof job);
		job.acct = a;
		job.from = "";
		job.rcpts = rcpt;
		job.nrcpts = 1;
		job.msg = m;
		if (deliver_send(&job, &o, &info, &used, &owned) < 0)
			log_error("cannot send the failure report to <%s>: %s", to,
				  o.err.msg);
	}
	if (owned)
		conf_account_free((struct account *)used);
	outcome_free(&o);
	submit_info_free(&info);
	msg_free(m);
	if (fd >= 0)
		close(fd);
}

static void qrun_note(struct qrun_notes *notes, const struct account *a,
		      const struct queue_entry *ent, const char *reason)
{
	char **nt, **nx;

	if (notes == NULL || a == NULL || a->queue_notify != CONF_ON
	    || ent->from[0] == '\0')
		return;
	nt = realloc(notes->to, (notes->n + 1) * sizeof *nt);
	if (nt == NULL)
		return;
	notes->to = nt;
	nx = realloc(notes->text, (notes->n + 1) * sizeof *nx);
	if (nx == NULL)
		return;
	notes->text = nx;
	notes->to[notes->n] = strdup(ent->from);
	notes->text[notes->n] = qrun_report(a, ent, reason);
	if (notes->to[notes->n] && notes->text[notes->n])
		notes->n++;
	else {
		free(notes->to[notes->n]);
		free(notes->text[notes->n]);
	}
}

/* Send the collected reports (after the queue session has ended). */
static void qrun_send_notes(const struct account *a, struct qrun_notes *notes)
{
	size_t i;

	for (i = 0; i < notes->n; i++) {
		if (a != NULL)
			qrun_send_report(a, notes->to[i], notes->text[i]);
		free(notes->to[i]);
		free(notes->text[i]);
	}
	free(notes->to);
	free(notes->text);
	memset(notes, 0, sizeof *notes);
}

/* ---- one entry's fate --------------------------------------------------- */

/* After an attempt: gone when nothing is pending, failed/ when some
 * recipient failed for good, otherwise the updated envelope stays. */
static int qrun_settle(struct queue *q, struct queue_entry *ent,
		       struct qrun_stats *st, const struct account *a,
		       struct qrun_notes *notes, struct err *e)
{
	const char *why = ent->last_error ? ent->last_error
		: "refused by the server";
	size_t i;
	int failed = 0;

	if (queue_has_pending(ent)) {
		st->deferred++;
		return queue_save(q, ent, e);
	}
	for (i = 0; i < ent->nrcpts; i++)
		if (ent->rcpts[i].state == QUEUE_FAILED)
			failed = 1;
	if (!failed) {
		st->delivered++;
		return queue_remove(q, ent->id, e);
	}
	st->failed++;
	log_error("queued message %s could not be delivered to every "
		  "recipient: %s", ent->id, why);
	qrun_note(notes, a, ent, why);
	return queue_move_failed(q, ent, why, e);
}

/* Too old: failed/ without an attempt.  `a` may be NULL (no account). */
static void qrun_expire(struct queue *q, struct queue_entry *ent,
			const struct account *a, int lifetime,
			const char *what, struct qrun_stats *st,
			struct qrun_notes *notes, struct err *e)
{
	char why[ERR_MSG_MAX + 128];

	snprintf(why, sizeof why, "expired after %d days in the queue%s%s%s%s",
		 lifetime / 86400, what ? "; " : "", what ? what : "",
		 ent->last_error ? "; last error: " : "",
		 ent->last_error ? ent->last_error : "");
	st->failed++;
	log_error("queued message %s %s", ent->id, why);
	qrun_note(notes, a, ent, why);
	queue_move_failed(q, ent, why, e);
}

/* ---- one account's entries over one session ----------------------------- */

struct qrun_run {
	const struct account *acct;     /* prepared copy */
	struct queue *q;
	const struct qrun_filter *f;
	struct qrun_stats *st;
	/* the entries of this account, in order, as listed (their fields
	 * are a hint; each is locked and loaded again before use) */
	const struct queue_entry **ents;
	size_t nids, next_id;
	int started;                    /* a message went to the session */
	/* the entry in flight */
	struct queue_entry cur;
	int cur_lock, cur_fd;
	struct msg *cur_msg;
	char **cur_rcpts;
	size_t *cur_map, cur_n;
	struct err *e;
	struct qrun_notes notes;        /* failure reports to send afterwards */
};

static void qrun_release(struct qrun_run *run)
{
	msg_free(run->cur_msg);
	run->cur_msg = NULL;
	if (run->cur_fd >= 0)
		close(run->cur_fd);
	run->cur_fd = -1;
	free(run->cur_rcpts);
	free(run->cur_map);
	run->cur_rcpts = NULL;
	run->cur_map = NULL;
	queue_entry_clear(&run->cur);
	queue_unlock(run->cur_lock);
	run->cur_lock = -1;
}

/* Lock and load one entry: 1 when both worked (*lock to release);
 * 0 when it is busy, gone, or damaged (then moved to failed/ by the
 * queue and reported here: one bad entry never stops a run), or when
 * there was no memory to load it: it stays as it is, and the run's
 * error `run_e` records it (the run ends with EX_OSERR). */
static int qrun_lock_load(struct queue *q, const char *id, int *lock,
			  struct queue_entry *ent, struct err *run_e)
{
	struct err e;
	int r;

	err_init(&e);
	memset(ent, 0, sizeof *ent);
	r = queue_lock(q, id, lock, &e);
	if (r == 1 && (r = queue_load(q, id, ent, &e)) != 1) {
		queue_unlock(*lock);
		*lock = -1;
	}
	if (r < 0 && e.code == ERR_OSERR)
		err_set(run_e, ERR_OSERR, "out of memory");
	else if (r < 0)
		log_error("queued message %s: %s", id, e.msg);
	return r == 1;
}

static int qrun_is_expired(const struct queue_entry *ent, int lifetime)
{
	return time(NULL) - ent->queued > (time_t)lifetime;
}

/* The pending recipients of the entry in flight, and their places. */
static int qrun_pending(struct qrun_run *run)
{
	size_t i;

	run->cur_rcpts = calloc(run->cur.nrcpts + 1, sizeof *run->cur_rcpts);
	run->cur_map = calloc(run->cur.nrcpts + 1, sizeof *run->cur_map);
	if (run->cur_rcpts == NULL || run->cur_map == NULL)
		return -1;
	run->cur_n = 0;
	for (i = 0; i < run->cur.nrcpts; i++)
		if (run->cur.rcpts[i].state == QUEUE_PENDING) {
			run->cur_map[run->cur_n] = i;
			run->cur_rcpts[run->cur_n++] = run->cur.rcpts[i].addr;
		}
	return 0;
}

/* Lock and load the next entry that still needs work; 1 when one is
 * ready (run->cur...), 0 when there is none left. */
static int qrun_take(struct qrun_run *run)
{
	struct msg_read_opts ro;
	struct err le;

	memset(&ro, 0, sizeof ro);
	while (run->next_id < run->nids) {
		const char *id = run->ents[run->next_id++]->id;

		/* busy: another flusher has it and reports it */
		if (!qrun_lock_load(run->q, id, &run->cur_lock, &run->cur,
				    run->e))
			continue;
		/* another flusher may have finished it meanwhile */
		if (!queue_has_pending(&run->cur)
		    || !qrun_matches(&run->cur, run->f, time(NULL))) {
			qrun_release(run);
			continue;
		}
		if (qrun_is_expired(&run->cur, run->acct->queue_lifetime)) {
			qrun_expire(run->q, &run->cur, run->acct,
				    run->acct->queue_lifetime, NULL, run->st,
				    &run->notes, run->e);
			qrun_release(run);
			continue;
		}
		err_init(&le);
		if (qrun_pending(run) < 0)
			err_set(&le, ERR_OSERR, "out of memory");
		else if ((run->cur_fd = queue_open_msg(run->q, &run->cur,
						       run->cur_lock, &le)) >= 0)
			msg_read(run->cur_fd, &ro, &run->cur_msg, &le);
		if (err_isset(&le)) {
			/* the entry stays queued as it is */
			if (le.code == ERR_OSERR)
				err_set(run->e, ERR_OSERR, "%s", le.msg);
			else
				log_error("queued message %s: %s", id, le.msg);
			qrun_release(run);
			continue;
		}
		return 1;
	}
	return 0;
}

static int qrun_next_cb(void *ctx, struct submit_msg *m)
{
	struct qrun_run *run = ctx;

	if (!qrun_take(run))
		return 0;
	run->started = 1;
	run->st->tried++;
	m->force_partial = 1;
	m->from = run->cur.from;
	m->rcpts = run->cur_rcpts;
	m->nrcpts = run->cur_n;
	m->msg = run->cur_msg;
	return 1;
}

/* Record the outcome right after the server's reply: the window in which
 * a crash could cause a second delivery is as short as it can be. */
static void qrun_done_cb(void *ctx, const struct outcome *o)
{
	struct qrun_run *run = ctx;

	/* the entry stays queued; the run did not do all its job */
	if (o->err.code == ERR_OSERR)
		err_set(run->e, ERR_OSERR, "%s", o->err.msg);
	deliver_record(&run->cur, run->cur_map, o, run->acct->queue_backoff);
	if (!outcome_delivered(o))
		log_debug("queued message %s: %s (%s, %s)", run->cur.id,
			  o->err.msg, outcome_class_name(o->cls),
			  outcome_scope_name(o->scope));
	deliver_log(run->acct, run->cur.from, run->cur_rcpts, run->cur_n, o,
		    NULL);
	qrun_settle(run->q, &run->cur, run->st, run->acct, &run->notes,
		    run->e);
	qrun_release(run);
}

/* The session failed before (or instead of) the remaining messages: each
 * records the attempt (so backoff applies) and stays queued. */
static void qrun_defer_rest(struct qrun_run *run, const struct err *why)
{
	struct outcome o;
	struct err oe;

	while (qrun_take(run)) {
		run->st->tried++;
		err_init(&oe);
		memset(&o, 0, sizeof o);
		outcome_init(&o, run->cur_n, &oe);
		outcome_session_failure(&o, why);
		qrun_done_cb(run, &o);
		outcome_free(&o);
	}
}

/* Entries past their lifetime go to failed/ before any connection; the
 * others stay in run->ents.  The listed time picks the candidates; the
 * locked, reloaded entry decides. */
static void qrun_expire_pass(struct qrun_run *run)
{
	size_t i, k = 0;

	for (i = 0; i < run->nids; i++) {
		if (qrun_is_expired(run->ents[i], run->acct->queue_lifetime)
		    && qrun_lock_load(run->q, run->ents[i]->id, &run->cur_lock,
				      &run->cur, run->e)
		    && qrun_is_expired(&run->cur, run->acct->queue_lifetime)) {
			qrun_expire(run->q, &run->cur, run->acct,
				    run->acct->queue_lifetime, NULL, run->st,
				    &run->notes, run->e);
		} else {
			run->ents[k++] = run->ents[i];
		}
		qrun_release(run);
	}
	run->nids = k;
}

/* All entries of one account over one connection. */
static void qrun_account(struct qrun_run *run)
{
	struct submit_batch batch;
	struct submit_info info;
	struct gate g;
	struct err se;

	err_init(&se);
	memset(&info, 0, sizeof info);
	qrun_expire_pass(run);
	if (run->nids == 0) {
		memset(&g, 0, sizeof g);
	} else if (gate_open(&g, run->acct, 1, &se) < 0) {
		log_debug("account %s: %s", run->acct->name, se.msg);
		qrun_defer_rest(run, &se);
	} else {
		batch.next = qrun_next_cb;
		batch.done = qrun_done_cb;
		batch.ctx = run;
		if (submit_batch_run(&g, &batch, &info, &se) < 0) {
			log_debug("account %s: %s", run->acct->name, se.msg);
			qrun_defer_rest(run, &se);
		}
	}
	/* the entries wait for the next run; this one did not do its job */
	if (se.code == ERR_OSERR)
		err_set(run->e, ERR_OSERR, "%s", se.msg);
	gate_close(&g);
	submit_info_free(&info);
	qrun_send_notes(run->acct, &run->notes);
}

/* ---- one queue directory ------------------------------------------------ */

/* The configuration an entry was queued under: the process's own when it
 * is the same, else loaded now (by the entry's owner: this process).
 * *owned tells the caller to free it. */
static const struct conf *qrun_conf_for(const struct qrun_ctx *cx,
					const char *config, struct conf *buf,
					int *owned, struct err *e)
{
	size_t i;
	int rc;

	*owned = 0;
	if (cx->conf && qrun_same_config(cx->conf_file, config))
		return cx->conf;
	conf_init(buf);
	*owned = 1;
	buf->regular_only = 1;  /* a FIFO must not hold a queue run */
	rc = conf_load_all(buf, config, e);
	for (i = 0; i < buf->nwarnings; i++)
		log_warn("%s", buf->warnings[i]);
	return rc < 0 ? NULL : buf;
}

/* The lifetime for entries without an account: the defaults'. */
static int qrun_default_lifetime(const struct conf *c)
{
	return c && c->defaults ? c->defaults->queue_lifetime
		: CONF_DEFAULT_QUEUE_LIFETIME;
}

/* Entries whose account is gone (or whose configuration cannot be read)
 * wait until their lifetime ends, then fail. */
static void qrun_orphans(struct queue *q, const struct queue_entry **ents,
			 size_t k,
			 int lifetime, const char *what,
			 struct qrun_stats *st, struct err *e)
{
	struct queue_entry ent;
	struct qrun_notes none;
	size_t i;
	int lock, kept = 0;

	memset(&none, 0, sizeof none);
	for (i = 0; i < k; i++) {
		if (!qrun_lock_load(q, ents[i]->id, &lock, &ent, e))
			continue;
		if (qrun_is_expired(&ent, lifetime))
			qrun_expire(q, &ent, NULL, lifetime, what, st, &none, e);
		else
			kept++;
		queue_entry_clear(&ent);
		queue_unlock(lock);
	}
	if (kept > 0)
		log_warn("%s; %d queued message%s kept", what, kept,
			 kept == 1 ? "" : "s");
	st->skipped += kept;
}

/* The entries of one (configuration, account) pair. */
static void qrun_group(const struct qrun_ctx *cx, struct queue *q,
		       const struct queue_entry **ents, size_t k,
		       const struct qrun_filter *f, struct qrun_stats *st,
		       struct err *e)
{
	struct conf cbuf;
	const struct conf *c;
	const struct account *base;
	struct account *a = NULL;
	struct qrun_run run;
	struct err ce;
	char what[ERR_MSG_MAX + 128];
	int owned;

	const struct queue_entry *first = ents[0];

	err_init(&ce);
	c = qrun_conf_for(cx, first->config, &cbuf, &owned, &ce);
	base = c ? conf_find(c, first->account) : NULL;
	if (ce.code == ERR_OSERR) {
		/* says nothing about the entries: they wait as they are */
		err_set(e, ERR_OSERR, "%s", ce.msg);
	} else if (c == NULL || base == NULL) {
		if (c == NULL)
			snprintf(what, sizeof what, "the configuration of "
				 "queued messages cannot be read: %s", ce.msg);
		else
			snprintf(what, sizeof what, "account %s no longer "
				 "exists", first->account);
		qrun_orphans(q, ents, k, qrun_default_lifetime(c), what, st, e);
	} else if ((a = conf_account_dup(base)) == NULL
		   || gate_prepare_account(a, &ce) < 0) {
		snprintf(what, sizeof what, "account %s: %s", first->account,
			 ce.msg);
		if (a == NULL || ce.code == ERR_OSERR)
			err_set(e, ERR_OSERR, "out of memory");
		else
			qrun_orphans(q, ents, k, base->queue_lifetime, what,
				     st, e);
	} else {
		memset(&run, 0, sizeof run);
		run.acct = a;
		run.q = q;
		run.f = f;
		run.st = st;
		run.ents = ents;
		run.nids = k;
		run.cur_lock = run.cur_fd = -1;
		run.e = e;
		qrun_account(&run);
	}
	conf_account_free(a);
	if (owned)
		conf_free(&cbuf);
}

static int qrun_same_group(const struct queue_entry *a,
			   const struct queue_entry *b)
{
	return strcmp(a->account, b->account) == 0
		&& qrun_same_config(a->config, b->config);
}

/* Serve one queue directory: entries grouped by configuration and
 * account, each group in one session, oldest entries first. */
static int qrun_dir(const struct qrun_ctx *cx, const char *dir,
		    const struct qrun_filter *f, struct qrun_stats *st,
		    struct err *e)
{
	struct queue *q;
	struct queue_entry *v = NULL;
	size_t n = 0, i, j, k;
	time_t now = time(NULL);
	const struct queue_entry **ents = NULL;
	char *done = NULL;

	if (deliver_open_queue(dir, &q, e) < 0)
		return -1;
	queue_cleanup(q, 3600);
	if (queue_list(q, &v, &n, e) < 0
	    || (ents = calloc(n + 1, sizeof *ents)) == NULL
	    || (done = calloc(n + 1, 1)) == NULL) {
		free(ents);
		queue_entries_free(v, n);
		queue_close(q);
		return err_set(e, ERR_OSERR, "out of memory");
	}
	for (i = 0; i < n; i++) {
		if (done[i] || !qrun_matches(&v[i], f, now))
			continue;
		for (j = i, k = 0; j < n; j++)
			if (!done[j] && qrun_same_group(&v[i], &v[j])) {
				done[j] = 1;
				if (qrun_matches(&v[j], f, now))
					ents[k++] = &v[j];
			}
		qrun_group(cx, q, ents, k, f, st, e);
	}
	free(done);
	free(ents);
	queue_entries_free(v, n);
	queue_close(q);
	return err_isset(e) ? -1 : 0;
}

/* ---- users' directories of the system spool (root) ---------------------- */

/* What a per-user child does in its directory. */
enum qrun_job { QRUN_JOB_FLUSH, QRUN_JOB_LIST, QRUN_JOB_EDIT };

struct qrun_user_job {
	enum qrun_job job;
	const struct qrun_filter *f;
	const char *id;                 /* edit */
	int remove;
	int json;                       /* list: JSON lines */
};

static int qrun_list_dir(const char *dir, int json, struct qrun_stats *st,
			 struct err *e);
static int qrun_edit_dir(const char *dir, const char *id, int remove,
			 int *found, struct err *e);

/* The job in one queue directory (the process's own, or a user's in the
 * child that became that user). */
static int qrun_job_dir(const struct qrun_ctx *cx, const char *dir,
			const struct qrun_user_job *j, struct qrun_stats *st,
			int *found, struct err *e)
{
	if (j->job == QRUN_JOB_FLUSH)
		return qrun_dir(cx, dir, j->f, st, e);
	if (j->job == QRUN_JOB_LIST)
		return qrun_list_dir(dir, j->json, st, e);
	return qrun_edit_dir(dir, j->id, j->remove, found, e);
}

/* Become the user: groups, gid, uid, and an environment of theirs only
 * (HOME from passwd; root's XDG directories forgotten). */
static int qrun_become(const struct passwd *pw)
{
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0
	    || setuid(pw->pw_uid) < 0 || getuid() == 0 || geteuid() == 0
	    || setuid(0) == 0)
		return -1;
	if (setenv("HOME", pw->pw_dir, 1) < 0
	    || setenv("USER", pw->pw_name, 1) < 0
	    || setenv("LOGNAME", pw->pw_name, 1) < 0)
		return -1;
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("XDG_STATE_HOME");
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("XDG_CACHE_HOME");     /* the TLS session cache: theirs */
	return 0;
}

/* In the child: do the job in `dir` as the user and write the counts to
 * `fd` ("tried delivered deferred failed skipped listed found"). */
static void qrun_user_child(const struct passwd *pw, const char *dir,
			    const struct qrun_user_job *j, int fd)
{
	struct qrun_ctx none = { NULL, NULL };
	struct qrun_stats st;
	struct err e;
	char line[256];
	int found = 0, n;

	memset(&st, 0, sizeof st);
	err_init(&e);
	if (qrun_become(pw) < 0)
		_exit(1);
	qrun_job_dir(&none, dir, j, &st, &found, &e);
	if (err_isset(&e))
		log_error("%s", e.msg);
	fflush(stdout);
	n = snprintf(line, sizeof line, "%d %d %d %d %d %d %d\n", st.tried,
		     st.delivered, st.deferred, st.failed, st.skipped,
		     st.listed, found);
	if (n > 0 && write(fd, line, (size_t)n) != n)
		_exit(1);
	_exit(err_isset(&e) ? 1 : 0);
}

/* In root: add up what the child reported. */
static void qrun_read_counts(int fd, struct qrun_stats *st, int *found)
{
	char line[256];
	ssize_t n;
	size_t got = 0;
	int v[7];

	while (got + 1 < sizeof line
	       && (n = read(fd, line + got, sizeof line - 1 - got)) > 0)
		got += (size_t)n;
	line[got] = '\0';
	if (sscanf(line, "%d %d %d %d %d %d %d", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6]) != 7)
		return;
	st->tried += v[0];
	st->delivered += v[1];
	st->deferred += v[2];
	st->failed += v[3];
	st->skipped += v[4];
	st->listed += v[5];
	*found += v[6];
}

/* One user's directory, in a child that became its owner. */
static void qrun_user_dir(const struct passwd *pw, const char *dir,
			  const struct qrun_user_job *j,
			  struct qrun_stats *st, int *found)
{
	int pfd[2], status;
	pid_t pid;

	if (pipe(pfd) < 0)
		return;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		qrun_user_child(pw, dir, j, pfd[1]);
	}
	close(pfd[1]);
	if (pid > 0) {
		qrun_read_counts(pfd[0], st, found);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	close(pfd[0]);
}

/* Why root does not serve the spool entry `name` (status st, not
 * followed if a link), or NULL when it is user *uid's own directory.
 * The layout: one directory per user, named by the uid, owned by that
 * uid; anything else was put there by someone else (squatting a user's
 * name, a link into another user's directory or /etc, a FIFO) and is
 * left alone, with a warning, so an administrator sees it in -bp. */
static const char *qrun_spool_problem(const char *name, const struct stat *st,
				      long *uid)
{
	char *end;

	if (name[0] < '0' || name[0] > '9' || (name[0] == '0' && name[1]))
		return "not named by a user id";
	errno = 0;
	*uid = strtol(name, &end, 10);
	if (*end != '\0' || errno != 0 || *uid < 0)
		return "not named by a user id";
	if (*uid == 0)
		return NULL;    /* root's own: served with root's queues */
	if (S_ISLNK(st->st_mode))
		return "a symbolic link";
	if (!S_ISDIR(st->st_mode))
		return "not a directory";
	if ((long)st->st_uid != *uid)
		return "named after one user but owned by another";
	return NULL;
}

/* Root: every user's directory of the spool, each served as its owner.
 * Only the spool itself is read here (names and owners of its entries,
 * never following a link), never anything inside a user's directory. */
static void qrun_spool_users(const struct qrun_user_job *j,
			     struct qrun_stats *st, int *found, struct err *e)
{
	DIR *d = opendir(deliver_spool());
	struct dirent *de;

	if (d == NULL && errno == ENOMEM)
		err_set(e, ERR_OSERR, "out of memory");
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL && !*found) {
		struct stat sb;
		struct passwd *pw;
		struct buf dir;
		const char *why;
		long uid = 0;

		if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &sb,
						    AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		buf_init(&dir, PATH_MAX);
		buf_printf(&dir, "%s/%s", deliver_spool(), de->d_name);
		why = qrun_spool_problem(de->d_name, &sb, &uid);
		if (why == NULL && uid != 0 && (pw = getpwuid((uid_t)uid)) == NULL)
			why = "named after a uid no user has";
		if (why != NULL) {
			log_warn("system queue: %s is %s (owner uid %ld, mode "
				 "%04o); not served", buf_str(&dir), why,
				 (long)sb.st_uid, (unsigned)(sb.st_mode & 07777));
		} else if (uid != 0) {
			qrun_user_dir(pw, buf_str(&dir), j, st, found);
		}
		buf_free(&dir);
	}
	closedir(d);
}

/* The job in every queue of the process's configuration, then (root)
 * in every user's spool directory as that user; an edit stops at the
 * first directory that has the entry. */
static int qrun_everywhere(const struct qrun_ctx *cx,
			   const struct qrun_user_job *j,
			   struct qrun_stats *st, int *found, struct err *e)
{
	size_t n, i;
	char **dirs = qrun_dirs(cx->conf, &n);
	int rc = 0;

	if (dirs == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	for (i = 0; i < n && !*found; i++)
		if (qrun_job_dir(cx, dirs[i], j, st, found, e) < 0)
			rc = -1;
	qrun_dirs_free(dirs, n);
	if (geteuid() == 0 && !*found)
		qrun_spool_users(j, st, found, e);
	return err_isset(e) ? -1 : rc;
}

int qrun_flush(const struct qrun_ctx *cx, const struct qrun_filter *f,
	       struct qrun_stats *st, struct err *e)
{
	struct qrun_user_job j;
	int found = 0;

	memset(st, 0, sizeof *st);
	memset(&j, 0, sizeof j);
	j.job = QRUN_JOB_FLUSH;
	j.f = f;
	return qrun_everywhere(cx, &j, st, &found, e);
}

/* ---- listing ------------------------------------------------------------ */

static void qrun_print_age(time_t secs)
{
	if (secs < 0)
		secs = 0;
	if (secs < 120)
		printf("%lds", (long)secs);
	else if (secs < 7200)
		printf("%ldm", (long)secs / 60);
	else if (secs < 172800)
		printf("%ldh", (long)secs / 3600);
	else
		printf("%ldd", (long)secs / 86400);
}

/* Text read back from disk, printed with control bytes made visible. */
static void qrun_print_text(const char *s)
{
	buf_fput_shown(stdout, s, strlen(s));
}

static void qrun_print_entry(const struct queue_entry *ent, time_t now)
{
	size_t i;

	printf("%s  %8llu  ", ent->id, ent->size);
	qrun_print_age(now - ent->queued);
	printf("  <");
	qrun_print_text(ent->from);
	printf(">  account ");
	qrun_print_text(ent->account);
	printf("\n    attempts %d, next attempt ", ent->attempts);
	if (ent->next <= now)
		printf("due now");
	else {
		printf("in ");
		qrun_print_age(ent->next - now);
	}
	if (ent->maybe_duplicate)
		printf(" (may already have been delivered once)");
	printf("\n");
	if (ent->last_error) {
		printf("    last error: ");
		qrun_print_text(ent->last_error);
		printf("\n");
	}
	for (i = 0; i < ent->nrcpts; i++) {
		printf("    %-9s <", ent->rcpts[i].state == QUEUE_DELIVERED
		       ? "delivered" : ent->rcpts[i].state == QUEUE_FAILED
		       ? "failed" : "pending");
		qrun_print_text(ent->rcpts[i].addr);
		printf(">");
		if (ent->rcpts[i].reply) {
			printf("  ");
			qrun_print_text(ent->rcpts[i].reply);
		}
		printf("\n");
	}
}

static void qrun_print_failed(const struct queue_entry *ent, time_t now)
{
	printf("%s  failed ", ent->id);
	qrun_print_age(now - ent->queued);
	printf(" ago: ");
	qrun_print_text(ent->last_error ? ent->last_error : "failed");
	printf("\n");
}

static const char *qrun_rcpt_state(enum queue_rcpt_state s)
{
	return s == QUEUE_DELIVERED ? "delivered" : s == QUEUE_FAILED
		? "failed" : "pending";
}

/* The recipients of an entry as a JSON array of {address, state,
 * reply}. */
static struct json_object *qrun_json_rcpts(const struct queue_entry *ent)
{
	struct json_object *arr = jsonl_array_new();
	struct json_object *r;
	size_t i;
	int rc = 0;

	for (i = 0; arr != NULL && rc == 0 && i < ent->nrcpts; i++) {
		r = jsonl_object_new();
		if (r == NULL || jsonl_add_str(r, "address", ent->rcpts[i].addr)
		    || jsonl_add_str(r, "state",
				     qrun_rcpt_state(ent->rcpts[i].state))
		    || jsonl_add_str(r, "reply", ent->rcpts[i].reply)) {
			jsonl_free(r);
			rc = -1;
		} else {
			rc = jsonl_array_add(arr, r);   /* arr holds r now */
		}
	}
	if (rc < 0) {
		jsonl_free(arr);
		return NULL;
	}
	return arr;
}

/* One entry as a JSON line on stdout: the listing for programs (the
 * fields of the text listing, typed; times in RFC 3339).  -1 on ENOMEM. */
static int qrun_json_entry(const char *dir, const struct queue_entry *ent,
			   int failed)
{
	struct json_object *o = jsonl_object_new();
	char *line = NULL;
	int rc;

	rc = o == NULL
		|| jsonl_add_str(o, "id", ent->id)
		|| jsonl_add_str(o, "state", failed ? "failed" : "queued")
		|| jsonl_add_str(o, "queue", dir)
		|| jsonl_add_str(o, "account", ent->account)
		|| jsonl_add_str(o, "sender", ent->from)
		|| jsonl_add(o, "recipients", qrun_json_rcpts(ent))
		|| jsonl_add_int(o, "size", (long long)ent->size)
		|| jsonl_add_time(o, "queued", ent->queued)
		|| jsonl_add_int(o, "attempts", ent->attempts)
		|| (failed ? jsonl_add_null(o, "next_attempt")
		    : jsonl_add_time(o, "next_attempt", ent->next))
		|| jsonl_add_str(o, "last_error", ent->last_error)
		|| jsonl_add_bool(o, "maybe_duplicate", ent->maybe_duplicate)
		|| (line = jsonl_line(o)) == NULL ? -1 : 0;
	if (rc == 0)
		fputs(line, stdout);
	free(line);
	jsonl_free(o);
	return rc;
}

/* The text listing of one directory: a heading, the entries, then the
 * failed ones. */
static void qrun_text_dir(const char *dir, const struct queue_entry *v,
			  size_t cnt, const struct queue_entry *fv, size_t fcnt)
{
	time_t now = time(NULL);
	size_t j;

	if (cnt > 0)
		printf("Queue %s: %zu message%s\n", dir, cnt, cnt == 1 ? "" : "s");
	for (j = 0; j < cnt; j++)
		qrun_print_entry(&v[j], now);
	if (fcnt > 0)
		printf("Failed messages in %s/failed: %zu\n", dir, fcnt);
	for (j = 0; j < fcnt; j++)
		qrun_print_failed(&fv[j], now);
}

/* The JSON listing of one directory: queued entries, then failed ones. */
static int qrun_json_dir(const char *dir, const struct queue_entry *v,
			 size_t cnt, const struct queue_entry *fv, size_t fcnt,
			 struct err *e)
{
	size_t j;

	if (jsonl_ready(e) < 0)
		return -1;
	for (j = 0; j < cnt; j++)
		if (qrun_json_entry(dir, &v[j], 0) < 0)
			return err_set(e, ERR_OSERR, "out of memory");
	for (j = 0; j < fcnt; j++)
		if (qrun_json_entry(dir, &fv[j], 1) < 0)
			return err_set(e, ERR_OSERR, "out of memory");
	return 0;
}

static int qrun_list_dir(const char *dir, int json, struct qrun_stats *st,
			 struct err *e)
{
	struct queue *q = NULL;
	struct queue_entry *v = NULL, *fv = NULL;
	size_t cnt = 0, fcnt = 0;
	int rc = 0;

	if (deliver_open_queue(dir, &q, e) < 0 || queue_list(q, &v, &cnt, e) < 0
	    || queue_list_failed(q, &fv, &fcnt, e) < 0) {
		queue_entries_free(v, cnt);
		queue_close(q);
		return -1;
	}
	if (json)
		rc = qrun_json_dir(dir, v, cnt, fv, fcnt, e);
	else
		qrun_text_dir(dir, v, cnt, fv, fcnt);
	st->listed += (int)(cnt + fcnt);
	queue_entries_free(v, cnt);
	queue_entries_free(fv, fcnt);
	queue_close(q);
	return rc;
}

int qrun_list(const struct qrun_ctx *cx, int json, struct err *e)
{
	struct qrun_user_job j;
	struct qrun_stats st;
	int found = 0, rc;

	memset(&st, 0, sizeof st);
	memset(&j, 0, sizeof j);
	j.job = QRUN_JOB_LIST;
	j.json = json;
	rc = qrun_everywhere(cx, &j, &st, &found, e);
	if (st.listed == 0 && rc == 0 && !json)
		printf("Mail queue is empty\n");
	return rc;
}

/* ---- removing and retrying one entry ------------------------------------ */

static int qrun_edit_dir(const char *dir, const char *id, int remove,
			 int *found, struct err *e)
{
	struct queue *q = NULL;
	struct queue_entry ent;
	int lfd, r, rc = 0;

	if (deliver_open_queue(dir, &q, e) < 0)
		return -1;
	r = queue_lock(q, id, &lfd, e);
	if (r < 0)
		rc = -1;
	else if (r > 0 && queue_load(q, id, &ent, e) == 1) {
		*found = 1;
		if (remove) {
			rc = queue_remove(q, id, e);
		} else {
			ent.next = 0;
			rc = queue_save(q, &ent, e);
		}
		queue_entry_clear(&ent);
	}
	if (r > 0)
		queue_unlock(lfd);
	queue_close(q);
	return rc;
}

int qrun_edit(const struct qrun_ctx *cx, const char *id, int remove,
	      struct err *e)
{
	struct qrun_user_job j;
	struct qrun_stats st;
	int found = 0, rc;

	memset(&st, 0, sizeof st);
	memset(&j, 0, sizeof j);
	j.job = QRUN_JOB_EDIT;
	j.id = id;
	j.remove = remove;
	rc = qrun_everywhere(cx, &j, &st, &found, e);
	if (!found && rc == 0)
		return err_set(e, ERR_USAGE, "no queued message %s (or it is "
			       "being delivered right now)", id);
	return rc;
}

/* ---- the opportunistic flush -------------------------------------------- */

/* The new message first, then the account's due queued messages, over
 * the same connection. */
struct qrun_combo {
	struct qrun_run run;
	const struct deliver_job *job;
	int main_given, main_done;
	struct outcome *o;              /* the caller's, for the new message */
};

static int qrun_combo_next(void *ctx, struct submit_msg *m)
{
	struct qrun_combo *c = ctx;

	if (!c->main_given) {
		c->main_given = 1;
		m->from = c->job->from;
		m->rcpts = c->job->rcpts;
		m->nrcpts = c->job->nrcpts;
		m->msg = c->job->msg;
		m->force_partial = c->job->force_partial;
		return 1;
	}
	return qrun_next_cb(&c->run, m);
}

static void qrun_combo_done(void *ctx, const struct outcome *o)
{
	struct qrun_combo *c = ctx;
	struct err e;

	if (c->main_done) {
		qrun_done_cb(&c->run, o);
		return;
	}
	c->main_done = 1;
	err_init(&e);
	if (outcome_copy(c->o, o, &e) < 0)
		outcome_session_failure(c->o, &e);
}

/* The account's due entries in its queue, queued under `config` (none:
 * *n = 0). */
static struct queue *qrun_due(const struct account *a, const char *config,
			      const struct qrun_filter *f,
			      struct queue_entry **v, size_t *nv,
			      const struct queue_entry ***ents, size_t *n)
{
	struct queue *q = NULL;
	char *dir = deliver_queue_dir(a);
	struct stat st;
	struct err e;
	size_t i;

	*n = 0;
	*ents = NULL;
	*v = NULL;
	*nv = 0;
	err_init(&e);
	if (dir == NULL || stat(dir, &st) < 0
	    || deliver_open_queue(dir, &q, &e) < 0
	    || queue_list(q, v, nv, &e) < 0
	    || (*ents = calloc(*nv + 1, sizeof **ents)) == NULL) {
		free(dir);
		queue_close(q);
		queue_entries_free(*v, *nv);
		*v = NULL;
		*nv = 0;
		return NULL;
	}
	free(dir);
	/* only entries queued under this same configuration */
	for (i = 0; i < *nv; i++)
		if (qrun_matches(&(*v)[i], f, time(NULL))
		    && qrun_same_config((*v)[i].config, config))
			(*ents)[(*n)++] = &(*v)[i];
	return q;
}

int qrun_send_and_flush(const struct qrun_ctx *cx,
			const struct deliver_job *job, struct outcome *o,
			struct submit_info *info,
			const struct account **used, int *used_owned)
{
	struct qrun_filter f;
	struct qrun_stats st;
	struct qrun_combo c;
	struct submit_batch batch;
	struct queue_entry *v;
	struct queue *q;
	struct gate g;
	const struct queue_entry **ents;
	size_t nv, n;
	struct err se;
	int rc;

	memset(&f, 0, sizeof f);
	f.due_only = 1;
	f.account = job->acct->name;
	q = qrun_due(job->acct, cx->conf_file, &f, &v, &nv, &ents, &n);
	if (q == NULL || n == 0) {
		free(ents);
		queue_entries_free(v, nv);
		queue_close(q);
		return deliver_send(job, o, info, used, used_owned);
	}
	memset(&c, 0, sizeof c);
	memset(&st, 0, sizeof st);
	err_init(&se);
	c.job = job;
	c.o = o;
	c.run.acct = job->acct;
	c.run.q = q;
	c.run.f = &f;
	c.run.st = &st;
	c.run.ents = ents;
	c.run.nids = n;
	c.run.cur_lock = c.run.cur_fd = -1;
	c.run.e = &se;
	rc = gate_open(&g, job->acct, 1, &se);
	if (rc == 0) {
		batch.next = qrun_combo_next;
		batch.done = qrun_combo_done;
		batch.ctx = &c;
		rc = submit_batch_run(&g, &batch, info, &se);
	}
	gate_close(&g);
	qrun_send_notes(job->acct, &c.run.notes);
	free(ents);
	queue_entries_free(v, nv);
	queue_close(q);
	if (!c.main_done) {
		/* the session never got to the new message: the plain path,
		 * failover included, decides */
		return deliver_send(job, o, info, used, used_owned);
	}
	*used = job->acct;
	*used_owned = 0;
	return outcome_delivered(o) ? 0 : -1;
}
