#include "config.h"
#include "deliver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <grp.h>
#include <pwd.h>
#include <sys/wait.h>

#include "log.h"
#include "sasl.h"

#define DELIVER_BACKOFF_MAX (24 * 3600)

int deliver_is_local(const struct account *a)
{
	struct in6_addr a6;
	struct in_addr a4;
	const char *h = a->host;
	size_t n;

	if (a->socket && *a->socket)
		return 1;
	if (h == NULL)
		return 0;
	n = strlen(h);
	if (strcasecmp(h, "localhost") == 0
	    || (n > 10 && strcasecmp(h + n - 10, ".localhost") == 0))
		return 1;
	if (inet_pton(AF_INET, h, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, h, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* Secure default, stricter than msmtp: an account that does not say
 * `tls` uses STARTTLS unless it talks to loopback or a socket. */
int deliver_prepare_account(struct account *a, struct err *e)
{
	if (a->tls == CONF_TLS_UNSET)
		a->tls = deliver_is_local(a) ? CONF_OFF : CONF_ON;
	return conf_account_finish(a, e);
}

void deliver_tls_params(const struct account *a, struct submit_params *sp)
{
	sp->tls = a->tls != CONF_ON ? 0 : a->tls_starttls == CONF_OFF ? 2 : 1;
	sp->tlsp.host = a->tls_host_override && *a->tls_host_override
		? a->tls_host_override : a->host;
	sp->tlsp.trust_file = a->tls_trust_file;
	sp->tlsp.crl_file = a->tls_crl_file;
	sp->tlsp.fingerprint = a->tls_fingerprint;
	sp->tlsp.certcheck = a->tls_certcheck != CONF_OFF;
	sp->tlsp.key_file = a->tls_key_file;
	sp->tlsp.cert_file = a->tls_cert_file;
	sp->tlsp.priorities = a->tls_priorities;
}

/* Credentials never travel over an unencrypted link to another host;
 * the password is found before connecting, so a failing passwordeval or
 * a missing password costs no connection. */
int deliver_session_params(const struct account *a, struct submit_params *sp,
			   struct secret **pw, struct err *e)
{
	struct secret_req req;

	sp->acct = a;
	deliver_tls_params(a, sp);
	if (a->auth == NULL || strcmp(a->auth, "off") == 0)
		return 0;
	if (a->tls != CONF_ON && !deliver_is_local(a))
		return err_set(e, ERR_UNAVAILABLE, "refusing to authenticate "
			       "over an unencrypted connection to %s (set 'tls "
			       "on'); nothing was sent", a->host);
	if (a->user == NULL && strcasecmp(a->auth, "external") != 0
	    && strcasecmp(a->auth, "gssapi") != 0)
		return err_set(e, ERR_CONFIG, "authentication needs a user name "
			       "(set 'user' in account %s)", a->name);
	sp->auth = a->auth;
	sp->user = a->user;
	if (!sasl_needs_password(a->auth))
		return 0;
	memset(&req, 0, sizeof req);
	req.password = a->password;
	req.passwordeval = a->passwordeval;
	req.host = a->host;
	req.user = a->user;
	req.timeout = a->timeout;
	if (*pw == NULL && secret_load(&req, pw, e) < 0)
		return -1;
	sp->password = *pw;
	return 0;
}

/* The system-wide spool: one 0700 directory per uid inside a root-owned
 * sticky directory that others cannot list (mode 1733), created by the
 * administrator.  MSMTP_SYSTEM_QUEUE overrides the place (tests). */
static const char *deliver_spool(void)
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
static int deliver_open_queue(const char *dir, struct queue **q, struct err *e)
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
	char path[4096];

	if (a && a->queue_dir && *a->queue_dir)
		return strdup(a->queue_dir);
	if ((a && !conf_account_from_user_file(a)) || !deliver_home_is_ours()) {
		snprintf(path, sizeof path, "%s/%ld", deliver_spool(),
			 (long)geteuid());
		return strdup(path);
	}
	if (state && *state == '/')
		snprintf(path, sizeof path, "%s/msmtp/queue", state);
	else
		snprintf(path, sizeof path, "%s/.local/state/msmtp/queue",
			 home && *home ? home : "/nonexistent");
	return strdup(path);
}

/* ---- sending with failover -------------------------------------------- */

/* The next failover account after `i` names, prepared; NULL at the end. */
static struct account *deliver_failover(const struct conf *c,
					const struct account *primary,
					size_t *pos, struct err *e)
{
	const char *list = primary->failover;
	char name[256];

	while (list && list[*pos]) {
		size_t n = 0;

		while (list[*pos] == ',' || list[*pos] == ' ')
			(*pos)++;
		while (list[*pos] && list[*pos] != ',' && n + 1 < sizeof name)
			name[n++] = list[(*pos)++];
		while (n > 0 && name[n - 1] == ' ')
			n--;
		name[n] = '\0';
		if (n == 0)
			continue;
		{
			const struct account *f = c ? conf_find(c, name) : NULL;
			struct account *copy;

			if (f == NULL) {
				log_warn("failover account %s does not exist", name);
				continue;
			}
			copy = conf_account_dup(f);
			if (copy == NULL) {
				err_set(e, ERR_OSERR, "out of memory");
				return NULL;
			}
			if (deliver_prepare_account(copy, e) < 0) {
				conf_account_free(copy);
				return NULL;
			}
			return copy;
		}
	}
	return NULL;
}

int deliver_send(const struct deliver_job *job, struct submit_result *res,
		 struct account **used, int *used_owned, struct err *e)
{
	struct account *a = (struct account *)job->acct;
	size_t pos = 0;
	int owned = 0;

	for (;;) {
		struct submit_params sp;
		struct secret *pw = NULL;
		struct err le;
		struct account *next;
		int rc;

		err_init(&le);
		memset(&sp, 0, sizeof sp);
		submit_result_free(res);
		rc = deliver_session_params(a, &sp, &pw, &le);
		if (rc == 0) {
			sp.from = job->from;
			sp.rcpts = job->rcpts;
			sp.nrcpts = job->nrcpts;
			sp.msg = job->msg;
			sp.force_partial = job->force_partial;
			rc = submit_run(&sp, res, &le);
		}
		secret_free(pw);
		if (rc == 0 || le.code != ERR_TEMPFAIL || res->maybe_delivered
		    || (next = deliver_failover(job->conf, job->acct, &pos,
						&le)) == NULL) {
			if (rc < 0)
				err_set(e, le.code, "%s", le.msg);
			*used = a;
			*used_owned = owned;
			return rc;
		}
		log_warn("account %s failed temporarily (%s); trying account %s",
			 a->name, le.msg, next->name);
		if (owned)
			conf_account_free(a);
		a = next;
		owned = 1;
	}
}

/* ---- the queue -------------------------------------------------------- */

int deliver_enqueue(const struct account *a, const char *from,
		    char *const *rcpts, size_t nrcpts, struct msg *m,
		    const char *last_error, int maybe_dup, char *idbuf,
		    size_t idlen, struct err *e)
{
	struct queue_entry ent;
	struct queue *q = NULL;
	char *dir;
	size_t i;
	int rc = -1;

	if (a->file == NULL || strcmp(a->file, "command line") == 0)
		return err_set(e, ERR_CONFIG, "cannot queue a message for an "
			       "account that is not in a configuration file");
	dir = deliver_queue_dir(a);
	if (dir == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	memset(&ent, 0, sizeof ent);
	if (deliver_open_queue(dir, &q, e) < 0)
		goto done;
	queue_new_id(&ent);
	ent.account = strdup(a->name);
	ent.from = strdup(from ? from : "");
	ent.rcpts = calloc(nrcpts, sizeof *ent.rcpts);
	if (ent.account == NULL || ent.from == NULL || ent.rcpts == NULL) {
		err_set(e, ERR_OSERR, "out of memory");
		goto done;
	}
	for (i = 0; i < nrcpts; i++) {
		ent.rcpts[i].addr = strdup(rcpts[i]);
		ent.rcpts[i].state = QUEUE_PENDING;
		if (ent.rcpts[i].addr == NULL) {
			ent.nrcpts = i;
			err_set(e, ERR_OSERR, "out of memory");
			goto done;
		}
	}
	ent.nrcpts = nrcpts;
	if (a->dsn_notify && strcmp(a->dsn_notify, "off"))
		ent.dsn_notify = strdup(a->dsn_notify);
	if (a->dsn_return && strcmp(a->dsn_return, "off"))
		ent.dsn_return = strdup(a->dsn_return);
	ent.queued = time(NULL);
	ent.attempts = last_error ? 1 : 0;
	ent.next = ent.queued + (last_error ? a->queue_backoff : 0);
	ent.last_error = last_error ? strdup(last_error) : NULL;
	ent.size = msg_wire_size(m);
	ent.maybe_duplicate = maybe_dup;
	rc = queue_add(q, &ent, m, e);
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

/* Every queue directory named by the configuration, plus the default. */
static size_t deliver_dirs(const struct conf *c, char **dirs, size_t max)
{
	size_t n = 0, i, j;

	for (i = 0; c && i <= c->n && n < max; i++) {
		char *d = deliver_queue_dir(i < c->n ? c->v[i] : NULL);
		struct stat st;

		if (d == NULL || stat(d, &st) < 0) {
			free(d);
			continue;
		}
		for (j = 0; j < n && strcmp(dirs[j], d) != 0; j++)
			;
		if (j < n) {
			free(d);
			continue;
		}
		dirs[n++] = d;
	}
	return n;
}

static int deliver_matches(const struct queue_entry *ent,
			   const struct deliver_filter *f, time_t now)
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

/* Record the outcome of one attempt in the envelope. */
static void deliver_record(struct queue_entry *ent, size_t *map, size_t n,
			   const struct submit_result *res, int ok,
			   const struct err *e, int backoff)
{
	time_t now = time(NULL);
	int shift;
	size_t i;

	for (i = 0; i < n; i++) {
		struct queue_rcpt *r = &ent->rcpts[map[i]];
		const struct smtp_rcpt_result *rr = res->rcpts ? &res->rcpts[i] : NULL;
		int code = rr ? (rr->lmtp_code ? rr->lmtp_code : rr->code) : 0;

		if (rr && rr->text[0]) {
			free(r->reply);
			r->reply = strdup(rr->text);
		}
		if (res->delivered && code / 100 == 2)
			r->state = QUEUE_DELIVERED;
		else if (code / 100 == 5)
			r->state = QUEUE_FAILED;
		else if (!ok && e->code != ERR_TEMPFAIL && !res->delivered)
			r->state = QUEUE_FAILED;        /* permanent refusal */
	}
	ent->attempts++;
	if (res->maybe_delivered)
		ent->maybe_duplicate = 1;
	if (!ok) {
		free(ent->last_error);
		ent->last_error = strdup(e->msg);
	}
	shift = ent->attempts > 1 ? ent->attempts - 1 : 0;
	if (shift > 16)
		shift = 16;
	ent->next = now + ((long)backoff << shift > DELIVER_BACKOFF_MAX
			   ? DELIVER_BACKOFF_MAX : (long)backoff << shift);
}

/* The failure report for the sender (queue_notify on): plain text,
 * null envelope sender (RFC 5321 6.1) so a report can never bounce back
 * and forth. */
static char *deliver_report(const struct account *a,
			    const struct queue_entry *ent, const char *reason)
{
	struct buf b;
	const char *at = a->from ? strrchr(a->from, '@') : NULL;
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	size_t i;

	localtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm);
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
static void deliver_send_report(const struct account *a, const char *to,
				const char *text)
{
	struct msg_read_opts ro;
	struct deliver_job job;
	struct submit_result res;
	struct account *used = NULL;
	struct msg *m = NULL;
	struct err e;
	char *rcpt[1];
	int owned = 0, fd = memfd_create("msmtp-report", MFD_CLOEXEC);

	err_init(&e);
	memset(&ro, 0, sizeof ro);
	memset(&res, 0, sizeof res);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)
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
		if (deliver_send(&job, &res, &used, &owned, &e) < 0)
			log_error("cannot send the failure report to <%s>: %s", to,
				  e.msg);
	}
	if (owned)
		conf_account_free(used);
	submit_result_free(&res);
	msg_free(m);
	if (fd >= 0)
		close(fd);
}

/* After an attempt: gone when nothing is pending, failed/ when some
 * recipient failed for good, otherwise the updated envelope stays. */
struct deliver_notes {
	char **to, **text;
	size_t n;
};

static void deliver_note(struct deliver_notes *notes,
			 const struct account *a,
			 const struct queue_entry *ent, const char *reason)
{
	char **nt, **nx;

	if (notes == NULL || a->queue_notify != CONF_ON || ent->from[0] == '\0')
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
	notes->text[notes->n] = deliver_report(a, ent, reason);
	if (notes->to[notes->n] && notes->text[notes->n])
		notes->n++;
}

/* Send the collected reports (after the queue session has ended). */
static void deliver_send_notes(const struct account *a,
			       struct deliver_notes *notes)
{
	size_t i;

	for (i = 0; i < notes->n; i++) {
		deliver_send_report(a, notes->to[i], notes->text[i]);
		free(notes->to[i]);
		free(notes->text[i]);
	}
	free(notes->to);
	free(notes->text);
	memset(notes, 0, sizeof *notes);
}

static int deliver_settle(struct queue *q, struct queue_entry *ent,
			  struct deliver_stats *st, const struct account *a,
			  struct deliver_notes *notes, struct err *e)
{
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
		  "recipient: %s", ent->id, ent->last_error ? ent->last_error
		  : "refused");
	deliver_note(notes, a, ent, ent->last_error ? ent->last_error
		     : "refused by the server");
	return queue_move_failed(q, ent, ent->last_error ? ent->last_error
				 : "refused by the server", e);
}

/* A queue run over one account's entries, all in one SMTP session. */
struct deliver_run {
	const struct conf *conf;
	const struct account *acct;     /* prepared copy */
	struct queue *q;
	const struct deliver_filter *f;
	struct deliver_stats *st;
	char **ids;                     /* entries of this account, in order */
	size_t nids, next_id;
	int started;                    /* a message went to the session */
	/* the entry in flight */
	struct queue_entry cur;
	int cur_lock, cur_fd;
	struct msg *cur_msg;
	char **cur_rcpts;
	size_t *cur_map, cur_n;
	struct err *e;
	struct deliver_notes notes;     /* failure reports to send afterwards */
};

static void deliver_release(struct deliver_run *run)
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

/* Expired entries go to failed/ without an attempt. */
static int deliver_expired(struct deliver_run *run)
{
	char why[ERR_MSG_MAX + 64];
	int lifetime = run->acct->queue_lifetime;

	if (time(NULL) - run->cur.queued <= lifetime)
		return 0;
	snprintf(why, sizeof why, "expired after %d days in the queue%s%s",
		 lifetime / 86400, run->cur.last_error ? "; last error: " : "",
		 run->cur.last_error ? run->cur.last_error : "");
	run->st->failed++;
	log_error("queued message %s %s", run->cur.id, why);
	deliver_note(&run->notes, run->acct, &run->cur, why);
	queue_move_failed(run->q, &run->cur, why, run->e);
	return 1;
}

/* Lock and load the next entry that still needs work; 1 when one is
 * ready (run->cur...), 0 when there is none left. */
static int deliver_take(struct deliver_run *run)
{
	struct msg_read_opts ro;
	struct err le;
	size_t i;

	memset(&ro, 0, sizeof ro);
	while (run->next_id < run->nids) {
		const char *id = run->ids[run->next_id++];
		int r = queue_lock(run->q, id, &run->cur_lock, run->e);

		if (r <= 0) {
			run->st->skipped += r == 0;
			continue;
		}
		/* another flusher may have finished it meanwhile */
		if (queue_load(run->q, id, &run->cur, run->e) != 1
		    || !queue_has_pending(&run->cur)
		    || !deliver_matches(&run->cur, run->f, time(NULL))
		    || deliver_expired(run)) {
			deliver_release(run);
			continue;
		}
		err_init(&le);
		run->cur_rcpts = calloc(run->cur.nrcpts, sizeof *run->cur_rcpts);
		run->cur_map = calloc(run->cur.nrcpts, sizeof *run->cur_map);
		if (run->cur_rcpts == NULL || run->cur_map == NULL
		    || (run->cur_fd = queue_open_msg(run->q, id, &le)) < 0
		    || msg_read(run->cur_fd, &ro, &run->cur_msg, &le) < 0) {
			log_error("queued message %s: %s", id,
				  le.msg[0] ? le.msg : "out of memory");
			deliver_release(run);
			continue;
		}
		run->cur_n = 0;
		for (i = 0; i < run->cur.nrcpts; i++)
			if (run->cur.rcpts[i].state == QUEUE_PENDING) {
				run->cur_map[run->cur_n] = i;
				run->cur_rcpts[run->cur_n++] = run->cur.rcpts[i].addr;
			}
		return 1;
	}
	return 0;
}

static int deliver_next_cb(void *ctx, struct submit_msg *m)
{
	struct deliver_run *run = ctx;

	if (!deliver_take(run))
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
static void deliver_done_cb(void *ctx, const struct submit_result *res,
			    int rc, const struct err *e)
{
	struct deliver_run *run = ctx;

	deliver_record(&run->cur, run->cur_map, run->cur_n, res, rc == 0, e,
		       run->acct->queue_backoff);
	if (rc < 0)
		log_debug("queued message %s: %s", run->cur.id, e->msg);
	deliver_settle(run->q, &run->cur, run->st, run->acct, &run->notes,
		       run->e);
	deliver_release(run);
}

/* The session failed before any message: every entry of the account
 * records the attempt (so backoff applies) and stays queued. */
static void deliver_defer_all(struct deliver_run *run, const struct err *why)
{
	struct submit_result none;

	memset(&none, 0, sizeof none);
	while (deliver_take(run)) {
		run->st->tried++;
		deliver_record(&run->cur, run->cur_map, run->cur_n, &none, 0, why,
			       run->acct->queue_backoff);
		deliver_settle(run->q, &run->cur, run->st, run->acct, &run->notes,
		       run->e);
		deliver_release(run);
	}
}

/* All entries of one account over one connection. */
static void deliver_account(struct deliver_run *run)
{
	struct submit_batch batch;
	struct submit_params sp;
	struct submit_result res;
	struct secret *pw = NULL;
	struct err se;

	err_init(&se);
	memset(&sp, 0, sizeof sp);
	memset(&res, 0, sizeof res);
	if (deliver_session_params(run->acct, &sp, &pw, &se) < 0) {
		log_error("account %s: %s; its queued messages stay queued",
			  run->acct->name, se.msg);
		run->st->skipped += (int)run->nids;
		return;
	}
	sp.force_partial = 1;
	batch.next = deliver_next_cb;
	batch.done = deliver_done_cb;
	batch.ctx = run;
	if (submit_run_batch(&sp, &batch, &res, &se) < 0 && !run->started) {
		log_debug("account %s: %s", run->acct->name, se.msg);
		deliver_defer_all(run, &se);
	}
	submit_result_free(&res);
	secret_free(pw);
	deliver_send_notes(run->acct, &run->notes);
}

/* Opportunistic flush over the same connection: the new message first,
 * then the account's due queued messages. */
struct deliver_combo {
	struct deliver_run run;
	const struct deliver_job *job;
	int main_given, main_done;
	struct submit_result *res;      /* the caller's, for the new message */
	struct err main_err;
};

static int deliver_combo_next(void *ctx, struct submit_msg *m)
{
	struct deliver_combo *c = ctx;

	if (!c->main_given) {
		c->main_given = 1;
		m->from = c->job->from;
		m->rcpts = c->job->rcpts;
		m->nrcpts = c->job->nrcpts;
		m->msg = c->job->msg;
		m->force_partial = c->job->force_partial;
		return 1;
	}
	return deliver_next_cb(&c->run, m);
}

static void deliver_combo_done(void *ctx, const struct submit_result *res,
			       int rc, const struct err *e)
{
	struct deliver_combo *c = ctx;

	if (c->main_done) {
		deliver_done_cb(&c->run, res, rc, e);
		return;
	}
	c->main_done = 1;
	c->res->delivered = res->delivered;
	c->res->maybe_delivered = res->maybe_delivered;
	c->res->smtp_code = res->smtp_code;
	snprintf(c->res->smtp_text, sizeof c->res->smtp_text, "%s",
		 res->smtp_text);
	free(c->res->rcpts);
	c->res->rcpts = NULL;
	if (res->rcpts && c->job->nrcpts
	    && (c->res->rcpts = calloc(c->job->nrcpts, sizeof *c->res->rcpts)))
		memcpy(c->res->rcpts, res->rcpts,
		       c->job->nrcpts * sizeof *c->res->rcpts);
	if (rc < 0)
		err_set(&c->main_err, e->code ? e->code : ERR_UNAVAILABLE, "%s",
			e->msg[0] ? e->msg : "the message was not accepted");
}

/* Ids of the account's due entries in its queue (none: *n = 0). */
static struct queue *deliver_due_ids(const struct account *a,
				     const struct deliver_filter *f,
				     struct queue_entry **v, size_t *nv,
				     char ***ids, size_t *n)
{
	struct queue *q = NULL;
	char *dir = deliver_queue_dir(a);
	struct stat st;
	struct err e;
	size_t i;

	*n = 0;
	*ids = NULL;
	*v = NULL;
	*nv = 0;
	err_init(&e);
	if (dir == NULL || stat(dir, &st) < 0
	    || deliver_open_queue(dir, &q, &e) < 0
	    || queue_list(q, v, nv, &e) < 0
	    || (*ids = calloc(*nv + 1, sizeof **ids)) == NULL) {
		free(dir);
		queue_close(q);
		queue_entries_free(*v, *nv);
		*v = NULL;
		*nv = 0;
		return NULL;
	}
	free(dir);
	for (i = 0; i < *nv; i++)
		if (deliver_matches(&(*v)[i], f, time(NULL)))
			(*ids)[(*n)++] = (*v)[i].id;
	return q;
}

int deliver_send_and_flush(const struct deliver_job *job,
			   struct submit_result *res, struct account **used,
			   int *used_owned, struct err *e)
{
	struct deliver_filter f;
	struct deliver_stats st;
	struct deliver_combo c;
	struct submit_batch batch;
	struct submit_params sp;
	struct submit_result sres;
	struct queue_entry *v;
	struct secret *pw = NULL;
	struct queue *q;
	char **ids;
	size_t nv, n;
	struct err se;
	int rc;

	memset(&f, 0, sizeof f);
	f.due_only = 1;
	f.account = job->acct->name;
	q = deliver_due_ids(job->acct, &f, &v, &nv, &ids, &n);
	if (q == NULL || n == 0) {
		free(ids);
		queue_entries_free(v, nv);
		queue_close(q);
		return deliver_send(job, res, used, used_owned, e);
	}
	memset(&c, 0, sizeof c);
	memset(&st, 0, sizeof st);
	err_init(&c.main_err);
	err_init(&se);
	c.job = job;
	c.res = res;
	c.run.conf = job->conf;
	c.run.acct = job->acct;
	c.run.q = q;
	c.run.f = &f;
	c.run.st = &st;
	c.run.ids = ids;
	c.run.nids = n;
	c.run.cur_lock = c.run.cur_fd = -1;
	c.run.e = &se;
	memset(&sp, 0, sizeof sp);
	memset(&sres, 0, sizeof sres);
	rc = deliver_session_params(job->acct, &sp, &pw, &se);
	if (rc == 0) {
		batch.next = deliver_combo_next;
		batch.done = deliver_combo_done;
		batch.ctx = &c;
		rc = submit_run_batch(&sp, &batch, &sres, &se);
	}
	secret_free(pw);
	deliver_send_notes(job->acct, &c.run.notes);
	free(ids);
	queue_entries_free(v, nv);
	queue_close(q);
	res->connected = sres.connected;
	res->tls_used = sres.tls_used;
	res->size = msg_wire_size(job->msg);
	snprintf(res->peer, sizeof res->peer, "%s", sres.peer);
	submit_result_free(&sres);
	if (!c.main_done) {
		/* the session never got to the new message: the plain path,
		 * failover included, decides */
		return deliver_send(job, res, used, used_owned, e);
	}
	*used = (struct account *)job->acct;
	*used_owned = 0;
	if (err_isset(&c.main_err))
		return err_set(e, c.main_err.code, "%s", c.main_err.msg);
	return 0;
}

static int deliver_flush_dir(const struct conf *c, const char *dir,
			     const struct deliver_filter *f,
			     struct deliver_stats *st, struct err *e)
{
	struct queue *q;
	struct queue_entry *v = NULL;
	size_t n = 0, i, j;
	time_t now = time(NULL);
	char **ids = NULL;

	if (deliver_open_queue(dir, &q, e) < 0)
		return -1;
	queue_cleanup(q, 3600);
	if (queue_list(q, &v, &n, e) < 0 || (ids = calloc(n + 1, sizeof *ids)) == NULL) {
		queue_entries_free(v, n);
		queue_close(q);
		return err_set(e, ERR_OSERR, "out of memory");
	}
	/* one session per account, entries oldest first */
	for (i = 0; i < n; i++) {
		const struct account *base;
		struct deliver_run run;
		size_t k = 0;

		if (v[i].account == NULL || !deliver_matches(&v[i], f, now))
			continue;
		memset(&run, 0, sizeof run);
		run.conf = c;
		run.q = q;
		run.f = f;
		run.st = st;
		run.cur_lock = run.cur_fd = -1;
		run.e = e;
		base = conf_find(c, v[i].account);
		for (j = i; j < n; j++) {
			if (v[j].account == NULL
			    || strcmp(v[j].account, v[i].account) != 0
			    || !deliver_matches(&v[j], f, now))
				continue;
			/* expired ones go to failed/ without a connection */
			if (base && now - v[j].queued > base->queue_lifetime) {
				run.acct = base;
				run.ids = &ids[k];
				ids[k] = v[j].id;
				run.nids = 1;
				run.next_id = 0;
				if (queue_lock(q, v[j].id, &run.cur_lock, e) == 1
				    && queue_load(q, v[j].id, &run.cur, e) == 1)
					deliver_expired(&run);
				deliver_release(&run);
				continue;
			}
			ids[k++] = v[j].id;
		}
		run.acct = NULL;
		run.ids = ids;
		run.nids = k;
		run.next_id = 0;

		if (k == 0) {
			/* nothing left to send for this account */
		} else if (base == NULL) {
			log_warn("account %s no longer exists; %zu queued "
				 "message%s kept", v[i].account, k, k == 1 ? "" : "s");
			st->skipped += (int)k;
		} else {
			struct account *a = conf_account_dup(base);
			struct err pe;

			err_init(&pe);
			if (a == NULL || deliver_prepare_account(a, &pe) < 0) {
				log_error("account %s: %s", v[i].account, pe.msg);
				st->skipped += (int)k;
			} else {
				run.acct = a;
				deliver_account(&run);
			}
			conf_account_free(a);
		}
		if (run.notes.n > 0 && base != NULL) {  /* all had expired */
			struct account *a = conf_account_dup(base);
			struct err pe;

			err_init(&pe);
			if (a && deliver_prepare_account(a, &pe) == 0)
				deliver_send_notes(a, &run.notes);
			conf_account_free(a);
		}
		/* mark this account's entries done for the outer loop */
		{
			char *acc = strdup(v[i].account);

			for (j = i; acc && j < n; j++)
				if (v[j].account && strcmp(v[j].account, acc) == 0) {
					free(v[j].account);
					v[j].account = NULL;
				}
			free(acc);
		}
	}
	free(ids);
	queue_entries_free(v, n);
	queue_close(q);
	return 0;
}

/* Root's queue run also serves every user's directory in the system
 * spool - each in a child that has become that user, so the files stay
 * theirs and root never acts on a user's queue with root's rights. */
static void deliver_flush_spool_users(const struct conf *c,
				      const struct deliver_filter *f)
{
	DIR *d = opendir(deliver_spool());
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char dir[4096];
		struct stat st;
		struct passwd *pw;
		pid_t pid;
		int status;

		if (de->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof dir, "%s/%s", deliver_spool(), de->d_name);
		if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid == 0
		    || (pw = getpwuid(st.st_uid)) == NULL
		    || strtol(de->d_name, NULL, 10) != (long)st.st_uid)
			continue;
		pid = fork();
		if (pid == 0) {
			struct deliver_stats cst;
			struct err ce;

			if (initgroups(pw->pw_name, pw->pw_gid) < 0
			    || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0
			    || getuid() == 0)
				_exit(1);
			memset(&cst, 0, sizeof cst);
			err_init(&ce);
			if (deliver_flush_dir(c, dir, f, &cst, &ce) < 0)
				log_error("%s", ce.msg);
			_exit(0);
		}
		if (pid > 0)
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
	}
	closedir(d);
}

int deliver_flush(const struct conf *c, const struct deliver_filter *f,
		  struct deliver_stats *st, struct err *e)
{
	char *dirs[64];
	size_t n = deliver_dirs(c, dirs, 64), i;
	int rc = 0;

	memset(st, 0, sizeof *st);
	for (i = 0; i < n; i++) {
		if (deliver_flush_dir(c, dirs[i], f, st, e) < 0)
			rc = -1;
		free(dirs[i]);
	}
	if (geteuid() == 0)
		deliver_flush_spool_users(c, f);
	return rc;
}

static void deliver_print_age(time_t secs)
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

static void deliver_print_entry(const struct queue_entry *ent, time_t now)
{
	size_t i;

	printf("%s  %8llu  ", ent->id, ent->size);
	deliver_print_age(now - ent->queued);
	printf("  <%s>  account %s\n", ent->from, ent->account);
	printf("    attempts %d, next attempt ", ent->attempts);
	if (ent->next <= now)
		printf("due now");
	else {
		printf("in ");
		deliver_print_age(ent->next - now);
	}
	if (ent->maybe_duplicate)
		printf(" (may already have been delivered once)");
	printf("\n");
	if (ent->last_error)
		printf("    last error: %s\n", ent->last_error);
	for (i = 0; i < ent->nrcpts; i++)
		printf("    %-9s <%s>%s%s\n",
		       ent->rcpts[i].state == QUEUE_DELIVERED ? "delivered"
		       : ent->rcpts[i].state == QUEUE_FAILED ? "failed" : "pending",
		       ent->rcpts[i].addr, ent->rcpts[i].reply ? "  " : "",
		       ent->rcpts[i].reply ? ent->rcpts[i].reply : "");
}

int deliver_list(const struct conf *c, struct err *e)
{
	char *dirs[64];
	size_t n = deliver_dirs(c, dirs, 64), i, j, total = 0;
	time_t now = time(NULL);
	int rc = 0;

	for (i = 0; i < n; i++) {
		struct queue *q = NULL;
		struct queue_entry *v;
		size_t cnt;

		if (deliver_open_queue(dirs[i], &q, e) < 0
		    || queue_list(q, &v, &cnt, e) < 0) {
			rc = -1;
		} else {
			if (cnt > 0)
				printf("Queue %s: %zu message%s\n", dirs[i], cnt,
				       cnt == 1 ? "" : "s");
			for (j = 0; j < cnt; j++)
				deliver_print_entry(&v[j], now);
			total += cnt;
			queue_entries_free(v, cnt);
		}
		if (q)
			queue_close(q);
		q = NULL;
		free(dirs[i]);
	}
	if (total == 0 && rc == 0)
		printf("Mail queue is empty\n");
	return rc;
}

int deliver_queue_edit(const struct conf *c, const char *id, int remove,
		       struct err *e)
{
	char *dirs[64];
	size_t n = deliver_dirs(c, dirs, 64), i;
	int found = 0, rc = 0;

	for (i = 0; i < n; i++) {
		struct queue *q = NULL;
		struct queue_entry ent;
		int lfd, r;

		if (!found && deliver_open_queue(dirs[i], &q, e) == 0
		    && (r = queue_lock(q, id, &lfd, e)) != 0) {
			if (r < 0) {
				rc = -1;
			} else if (queue_load(q, id, &ent, e) == 1) {
				found = 1;
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
		}
		queue_close(q);
		free(dirs[i]);
	}
	if (!found && rc == 0)
		return err_set(e, ERR_USAGE, "no queued message %s (or it is "
			       "being delivered right now)", id);
	return rc;
}
