/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"

#define QUEUE_ENV_MAX (4 * 1024 * 1024)
#define QUEUE_MAGIC "msmtp-queue-envelope 1"
#define QUEUE_MAGIC_PREFIX "msmtp-queue-envelope "
#define QUEUE_STUB_MAGIC "msmtp-queue-invalid 1"
#define QUEUE_SHOW_MAX 64       /* bytes of untrusted text quoted in a reason */
#define QUEUE_SHOW_BUF (QUEUE_SHOW_MAX * 4 + 8)
#define QUEUE_NAME_BUF 512      /* a directory entry name plus a suffix */
#define QUEUE_SIZE_WHY 96       /* queue_size_problem's text */

struct queue {
	char *dir;
	int dirfd;
	int tmpfd;              /* tmp/, opened without following a link */
	uid_t euid;             /* the owner of every file of the queue:
				 * asked once (a queue run checks several
				 * files per entry) */
};

/* ---- small helpers ---------------------------------------------------- */

static int queue_oom(struct err *e)
{
	return err_set(e, ERR_OSERR, "out of memory");
}

static int queue_fsync_dir(int dirfd, struct err *e)
{
	if (fsync(dirfd) < 0 && errno != EINVAL)
		return err_set(e, ERR_IOERR, "cannot sync the queue directory: %s",
			       strerror(errno));
	return 0;
}

static int queue_is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* Copy untrusted bytes for quoting in a one-line reason: control bytes
 * become \xNN, '"' and '\' are backslashed, and text past QUEUE_SHOW_MAX
 * bytes is cut and marked "...". */
static void queue_show(char *out, size_t outsz, const char *s, size_t n)
{
	size_t o = 0, i;

	for (i = 0; i < n && i < QUEUE_SHOW_MAX && o + 8 < outsz; i++) {
		unsigned char c = (unsigned char)s[i];

		if (queue_is_ctl(c))
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
		else if (c == '"' || c == '\\')
			o += (size_t)snprintf(out + o, outsz - o, "\\%c", c);
		else
			out[o++] = (char)c;
	}
	if (i < n && o + 4 < outsz)
		o += (size_t)snprintf(out + o, outsz - o, "...");
	out[o] = '\0';
}

/* One byte of a word: spaces, control bytes and '%' as %XX. */
static int queue_put_byte(struct buf *b, unsigned char c)
{
	if (c <= 0x20 || c == 0x7f || c == '%')
		return buf_printf(b, "%%%02X", c);
	return buf_append_byte(b, (char)c);
}

/* Escape so every value is one word. */
static int queue_put_word(struct buf *b, const char *s)
{
	for (; *s; s++)
		if (queue_put_byte(b, (unsigned char)*s) < 0)
			return -1;
	return 0;
}

/* Server text and error messages: control bytes become spaces and the
 * text is cut at QUEUE_TEXT_MAX, so what is written always loads back. */
static int queue_put_text(struct buf *b, const char *s)
{
	size_t i;

	for (i = 0; s[i] && i < QUEUE_TEXT_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		if (queue_put_byte(b, queue_is_ctl(c) ? ' ' : c) < 0)
			return -1;
	}
	return 0;
}

static const char *queue_state_name(enum queue_rcpt_state s)
{
	return s == QUEUE_DELIVERED ? "delivered" : s == QUEUE_FAILED
		? "failed" : "pending";
}

static int queue_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

int queue_id_valid(const char *id)
{
	size_t i, pid;

	if (strnlen(id, QUEUE_ID_MAX + 1) > QUEUE_ID_MAX || !queue_digits(id, 14)
	    || id[14] != '-')
		return 0;
	for (pid = 15; id[pid] >= '0' && id[pid] <= '9'; pid++)
		;
	if (pid == 15 || pid - 15 > 10 || id[pid] != '-')
		return 0;
	for (i = pid + 1; i < pid + 9; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return id[i] == '\0';
}

/* Why an entry file (its status from fstat on the open descriptor, or
 * lstat) is not one the queue may use, or NULL: the queue writes its
 * files itself, as fresh regular files of the effective user with one
 * link (none once renamed over while open), so anything else was put
 * there by someone - a link to a file elsewhere, a FIFO, another user's
 * file - and is never read or sent. */
static const char *queue_file_problem(const struct queue *q,
				      const struct stat *st)
{
	if (!S_ISREG(st->st_mode))
		return "not a regular file";
	if (st->st_uid != q->euid)
		return "owned by another user";
	if (st->st_nlink > 1)   /* 0: unlinked since it was opened */
		return "a hard link";
	return NULL;
}

/* "larger than its envelope says (...)" when the message file has more
 * bytes than the envelope's size (the message's size on the wire, which
 * is never smaller than the file: only CRLF are added), else NULL.  So
 * a message file grown (or swapped) after queueing is never read. */
static const char *queue_size_problem(const struct stat *st,
				      const struct queue_entry *ent,
				      char *buf, size_t len)
{
	if (st->st_size < 0 || (unsigned long long)st->st_size <= ent->size)
		return NULL;
	snprintf(buf, len, "larger than its envelope says (%lld bytes, size "
		 "%llu)", (long long)st->st_size, ent->size);
	return buf;
}

/* The refusal every entry point gives an id that is not one, before
 * the id gets anywhere near a path. */
static int queue_bad_id(const char *id, struct err *e)
{
	char shown[QUEUE_SHOW_BUF];

	queue_show(shown, sizeof shown, id, strlen(id));
	return err_set(e, ERR_USAGE, "\"%s\" is not a queue id", shown);
}

/* ---- opening ---------------------------------------------------------- */

static int queue_mkdir(const char *path, struct err *e)
{
	struct stat st;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return err_set(e, ERR_CANTCREAT, "cannot create queue directory "
			       "%s: %s", path, strerror(errno));
	if (lstat(path, &st) < 0)
		st.st_mode = 0;
	if (!S_ISDIR(st.st_mode))
		return err_set(e, ERR_CANTCREAT, "queue directory %s is %s", path,
			       S_ISLNK(st.st_mode) ? "a symbolic link; refusing "
			       "to use it" : "not a directory");
	if (st.st_uid != geteuid())
		return err_set(e, ERR_CANTCREAT, "queue directory %s does not "
			       "belong to you", path);
	if (st.st_mode & 022)
		return err_set(e, ERR_CANTCREAT, "queue directory %s is writable "
			       "by others (mode %03o); refusing to use it", path,
			       (unsigned)(st.st_mode & 0777));
	return 0;
}

/* mkdir -p for the parents (created 0700), then the checked queue dir. */
static int queue_make_parents(const char *dir, struct err *e)
{
	char path[4096];
	size_t i, n = strlen(dir);

	if (n == 0 || n >= sizeof path)
		return err_set(e, ERR_CANTCREAT, "bad queue directory name");
	memcpy(path, dir, n + 1);
	for (i = 1; i < n; i++) {
		if (path[i] != '/')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			err_set(e, ERR_CANTCREAT, "cannot create %s: %s", path,
				strerror(errno));
			return -1;
		}
		path[i] = '/';
	}
	return 0;
}

/* Open a directory of the queue (dirfd/name) without following a
 * symbolic link, and check on the open descriptor that it is ours and
 * private: entries are renamed into it. */
static int queue_open_subdir(int dirfd, const char *name, const char *shown,
			     struct err *e)
{
	struct stat st;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && (errno == ELOOP || errno == ENOTDIR)
	    && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0
	    && S_ISLNK(st.st_mode))
		return err_set(e, ERR_CANTCREAT, "%s is a symbolic link; refusing "
			       "to use it", shown);
	if (fd < 0)
		return err_set(e, ERR_CANTCREAT, "cannot open %s: %s", shown,
			       strerror(errno));
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 022)) {
		close(fd);
		return err_set(e, ERR_CANTCREAT, "%s is not a private directory "
			       "of yours; refusing to use it", shown);
	}
	return fd;
}

int queue_open(const char *dir, struct queue **out, struct err *e)
{
	struct queue *q;
	char sub[4096];

	if (queue_make_parents(dir, e) < 0 || queue_mkdir(dir, e) < 0)
		return -1;
	snprintf(sub, sizeof sub, "%s/tmp", dir);
	if (queue_mkdir(sub, e) < 0)
		return -1;
	q = calloc(1, sizeof *q);
	if (q == NULL || (q->dir = strdup(dir)) == NULL) {
		free(q);
		return queue_oom(e);
	}
	q->tmpfd = -1;
	q->euid = geteuid();
	q->dirfd = queue_open_subdir(AT_FDCWD, dir, dir, e);
	if (q->dirfd >= 0)
		q->tmpfd = queue_open_subdir(q->dirfd, "tmp", sub, e);
	if (q->dirfd < 0 || q->tmpfd < 0) {
		queue_close(q);
		return -1;
	}
	*out = q;
	return 0;
}

void queue_close(struct queue *q)
{
	if (q == NULL)
		return;
	if (q->dirfd >= 0)
		close(q->dirfd);
	if (q->tmpfd >= 0)
		close(q->tmpfd);
	free(q->dir);
	free(q);
}

const char *queue_dir(const struct queue *q)
{
	return q->dir;
}

void queue_new_id(struct queue_entry *ent)
{
	unsigned long long r = msg_random64();
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	snprintf(ent->id, sizeof ent->id, "%04d%02d%02d%02d%02d%02d-%ld-%08llx",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (long)getpid(), r & 0xffffffffULL);
}

/* failed/, created on demand. */
static int queue_failed_fd(struct queue *q, struct err *e)
{
	char shown[4200];

	snprintf(shown, sizeof shown, "%s/failed", q->dir);
	if (mkdirat(q->dirfd, "failed", 0700) < 0 && errno != EEXIST)
		return err_set(e, ERR_IOERR, "cannot create %s: %s", shown,
			       strerror(errno));
	return queue_open_subdir(q->dirfd, "failed", shown, e);
}

/* ---- field checks (shared by the writer and the reader) ---------------- */

/* Printable text: no NUL, no control byte, at most max bytes. */
static int queue_check_printable(const char *s, size_t n, size_t max,
				 const char *what, struct err *e)
{
	size_t i;

	if (memchr(s, '\0', n) != NULL)
		return err_set(e, ERR_DATAERR, "%s contains NUL", what);
	if (n > max)
		return err_set(e, ERR_DATAERR, "%s longer than %zu bytes", what, max);
	for (i = 0; i < n; i++)
		if (queue_is_ctl((unsigned char)s[i]))
			return err_set(e, ERR_DATAERR, "%s: control character", what);
	return 0;
}

static int queue_check_account(const char *s, size_t n, struct err *e)
{
	if (n == 0)
		return err_set(e, ERR_DATAERR, "account is empty");
	return queue_check_printable(s, n, QUEUE_ACCOUNT_MAX, "account", e);
}

/* An address usable in MAIL FROM / RCPT TO; empty only for the sender. */
static int queue_check_addr(const char *s, size_t n, int null_ok,
			    const char *what, struct err *e)
{
	struct err ae;

	if (memchr(s, '\0', n) != NULL)
		return err_set(e, ERR_DATAERR, "%s contains NUL", what);
	if (n == 0 && !null_ok)
		return err_set(e, ERR_DATAERR, "%s is empty", what);
	err_init(&ae);
	if (addr_check_envelope(s, &ae) < 0)
		return err_set(e, ERR_DATAERR, "%s: %s", what, ae.msg);
	return 0;
}

static int queue_check_config(const char *s, size_t n, struct err *e)
{
	if (queue_check_printable(s, n, QUEUE_CONFIG_MAX, "config", e) < 0)
		return -1;
	if (n == 0 || s[0] != '/')
		return err_set(e, ERR_DATAERR, "config: not an absolute path");
	return 0;
}

/* What conf.c stores: "never", or a comma list of failure, delay and
 * success. */
static int queue_check_dsn_notify(const char *s, size_t n, struct err *e)
{
	static const char *const words[] = { "failure", "delay", "success" };
	size_t i, w;

	if (n == 5 && memcmp(s, "never", 5) == 0)
		return 0;
	for (i = 0; i <= n; ) {
		const char *c = memchr(s + i, ',', n - i);
		size_t len = c ? (size_t)(c - (s + i)) : n - i;

		for (w = 0; w < 3; w++)
			if (len == strlen(words[w]) && memcmp(s + i, words[w], len) == 0)
				break;
		if (w == 3)
			return err_set(e, ERR_DATAERR, "dsn-notify: not never or "
				       "a list of failure, delay, success");
		i += len + 1;
	}
	return 0;
}

static int queue_check_dsn_return(const char *s, size_t n, struct err *e)
{
	if ((n == 7 && memcmp(s, "headers", 7) == 0)
	    || (n == 4 && memcmp(s, "full", 4) == 0))
		return 0;
	return err_set(e, ERR_DATAERR, "dsn-return: not headers or full");
}

static int queue_check_range(long long v, long long max, const char *what,
			     struct err *e)
{
	if (v < 0)
		return err_set(e, ERR_DATAERR, "%s is negative", what);
	if (v > max)
		return err_set(e, ERR_DATAERR, "%s out of range (0..%lld)", what, max);
	return 0;
}

static int queue_check_rcpts(const struct queue_entry *ent, struct err *e)
{
	char what[64];
	size_t i;

	if (ent->nrcpts == 0 || ent->rcpts == NULL)
		return err_set(e, ERR_DATAERR, "no recipients");
	if (ent->nrcpts > ADDR_MAX_COUNT)
		return err_set(e, ERR_DATAERR, "too many recipients");
	for (i = 0; i < ent->nrcpts; i++) {
		const struct queue_rcpt *r = &ent->rcpts[i];

		snprintf(what, sizeof what, "rcpt %zu", i + 1);
		if (r->addr == NULL)
			return err_set(e, ERR_DATAERR, "%s: no address", what);
		if (queue_check_addr(r->addr, strlen(r->addr), 0, what, e) < 0)
			return -1;
		if (r->state != QUEUE_PENDING && r->state != QUEUE_DELIVERED
		    && r->state != QUEUE_FAILED)
			return err_set(e, ERR_DATAERR, "%s: unknown state", what);
	}
	return 0;
}

/* Everything queue_save writes must load back: the same checks as the
 * reader, on the entry in memory (server text is made safe when it is
 * written instead). */
static int queue_check_entry(const struct queue_entry *ent, struct err *e)
{
	if (!queue_id_valid(ent->id))
		return queue_bad_id(ent->id, e);
	if (ent->account == NULL)
		return err_set(e, ERR_DATAERR, "account is empty");
	if (queue_check_account(ent->account, strlen(ent->account), e) < 0
	    || queue_check_addr(ent->from ? ent->from : "",
				ent->from ? strlen(ent->from) : 0, 1, "from", e) < 0
	    || (ent->config && queue_check_config(ent->config,
						  strlen(ent->config), e) < 0)
	    || (ent->dsn_notify && queue_check_dsn_notify(ent->dsn_notify,
							  strlen(ent->dsn_notify),
							  e) < 0)
	    || (ent->dsn_return && queue_check_dsn_return(ent->dsn_return,
							  strlen(ent->dsn_return),
							  e) < 0)
	    || queue_check_range((long long)ent->queued, QUEUE_TIME_MAX,
				 "queued", e) < 0
	    || queue_check_range((long long)ent->next, QUEUE_TIME_MAX, "next",
				 e) < 0
	    || queue_check_range(ent->attempts, QUEUE_ATTEMPTS_MAX, "attempts",
				 e) < 0
	    || queue_check_range(ent->maybe_duplicate, 1, "maybe-duplicate",
				 e) < 0)
		return -1;
	if (ent->size > QUEUE_SIZE_MAX)
		return err_set(e, ERR_DATAERR, "size out of range (0..%llu)",
			       QUEUE_SIZE_MAX);
	return queue_check_rcpts(ent, e);
}

/* ---- envelopes -------------------------------------------------------- */

static int queue_put_line(struct buf *b, const char *key, const char *val,
			  int text)
{
	int r = buf_printf(b, "%s ", key);

	r |= text ? queue_put_text(b, val) : queue_put_word(b, val);
	r |= buf_append_byte(b, '\n');
	return r;
}

int queue_format_env(const struct queue_entry *ent, struct buf *b,
		     struct err *e)
{
	size_t i;
	int r = 0;

	if (queue_check_entry(ent, e) < 0) {
		err_prefix(e, "invalid queue entry");
		return -1;
	}
	r |= buf_printf(b, "%s\nid %s\n", QUEUE_MAGIC, ent->id);
	r |= queue_put_line(b, "account", ent->account, 0);
	r |= buf_append_str(b, "from ");
	r |= queue_put_word(b, ent->from ? ent->from : "");
	if (ent->from == NULL || *ent->from == '\0')
		r |= buf_append_str(b, "%00");  /* the null sender */
	r |= buf_append_byte(b, '\n');
	if (ent->config)
		r |= queue_put_line(b, "config", ent->config, 0);
	if (ent->dsn_notify)
		r |= queue_put_line(b, "dsn-notify", ent->dsn_notify, 0);
	if (ent->dsn_return)
		r |= queue_put_line(b, "dsn-return", ent->dsn_return, 0);
	r |= buf_printf(b, "queued %lld\nnext %lld\nattempts %d\nsize %llu\n"
			"maybe-duplicate %d\n", (long long)ent->queued,
			(long long)ent->next, ent->attempts, ent->size,
			ent->maybe_duplicate);
	if (ent->last_error)
		r |= queue_put_line(b, "last-error", ent->last_error, 1);
	for (i = 0; i < ent->nrcpts; i++) {
		r |= buf_printf(b, "rcpt %s ", queue_state_name(ent->rcpts[i].state));
		r |= queue_put_word(b, ent->rcpts[i].addr);
		if (ent->rcpts[i].reply) {
			r |= buf_append_byte(b, ' ');
			r |= queue_put_text(b, ent->rcpts[i].reply);
		}
		r |= buf_append_byte(b, '\n');
	}
	r |= buf_append_str(b, "END\n");
	return r ? err_set_buf(e, ERR_IOERR, "queue envelope too large") : 0;
}

/* Write `data` to tmp/NAME (a fresh file: nothing planted there is
 * written through), fsync it, rename it to DEST in destfd.  The caller
 * syncs the directory. */
static int queue_commit_file(struct queue *q, const char *tmpname, int destfd,
			     const char *dest, const char *data, size_t len,
			     struct err *e)
{
	int fd;

	unlinkat(q->tmpfd, tmpname, 0);
	fd = openat(q->tmpfd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return err_set(e, ERR_IOERR, "cannot write to the queue: %s",
			       strerror(errno));
	if (msg_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		int saved = errno;

		close(fd);
		unlinkat(q->tmpfd, tmpname, 0);
		return err_set(e, ERR_IOERR, "cannot write to the queue: %s",
			       strerror(saved));
	}
	if (close(fd) < 0 || renameat(q->tmpfd, tmpname, destfd, dest) < 0) {
		int saved = errno;

		unlinkat(q->tmpfd, tmpname, 0);
		return err_set(e, ERR_IOERR, "cannot write to the queue: %s",
			       strerror(saved));
	}
	return 0;
}

/* The envelope of ent as ID.env in destfd. */
static int queue_write_env(struct queue *q, const struct queue_entry *ent,
			   int destfd, struct err *e)
{
	struct buf b;
	char tmpname[128], dest[128];
	int r;

	buf_init(&b, QUEUE_ENV_MAX);
	if (queue_format_env(ent, &b, e) < 0) {
		buf_free(&b);
		return -1;
	}
	snprintf(tmpname, sizeof tmpname, "%s.env.%ld", ent->id, (long)getpid());
	snprintf(dest, sizeof dest, "%s.env", ent->id);
	r = queue_commit_file(q, tmpname, destfd, dest, b.data, b.len, e);
	buf_free(&b);
	return r;
}

int queue_save(struct queue *q, const struct queue_entry *ent, struct err *e)
{
	if (queue_write_env(q, ent, q->dirfd, e) < 0)
		return -1;
	return queue_fsync_dir(q->dirfd, e);
}

/* Copy the message stream into tmp/ID.msg and fsync it. */
static int queue_write_msg(struct queue *q, const char *id, struct msg *m,
			   struct err *e)
{
	static char chunk[MSG_CHUNK];
	char tmp[128];
	ssize_t n;
	int fd, saved = 0;

	snprintf(tmp, sizeof tmp, "%s.msg", id);
	fd = openat(q->tmpfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(e, ERR_IOERR, "cannot write to the queue: %s",
			       strerror(errno));
	if (msg_stream_rewind(m, e) < 0)
		goto fail;
	while ((n = msg_stream_read(m, chunk, sizeof chunk, e)) > 0)
		if (msg_write_all(fd, chunk, (size_t)n) < 0) {
			saved = errno;
			goto fail;
		}
	if (n < 0)
		goto fail;
	if (fsync(fd) < 0) {
		saved = errno;
		goto fail;      /* closes fd */
	}
	if (close(fd) < 0) {
		saved = errno;
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(q->tmpfd, tmp, 0);
	return err_set(e, ERR_IOERR, "cannot write to the queue: %s",
		       strerror(saved ? saved : EIO));
}

int queue_add(struct queue *q, const struct queue_entry *ent, struct msg *m,
	      struct err *e)
{
	char name[128];

	if (queue_check_entry(ent, e) < 0) {
		err_prefix(e, "invalid queue entry");
		return -1;
	}
	if (queue_write_msg(q, ent->id, m, e) < 0)
		return -1;
	snprintf(name, sizeof name, "%s.msg", ent->id);
	if (renameat(q->tmpfd, name, q->dirfd, name) < 0) {
		int saved = errno;

		unlinkat(q->tmpfd, name, 0);
		return err_set(e, ERR_IOERR, "cannot write to the queue: %s",
			       strerror(saved));
	}
	/* the envelope's arrival commits the entry */
	if (queue_save(q, ent, e) < 0) {
		unlinkat(q->dirfd, name, 0);
		return -1;
	}
	return 0;
}

int queue_remove(struct queue *q, const char *id, struct err *e)
{
	char name[128];

	if (!queue_id_valid(id))
		return queue_bad_id(id, e);
	snprintf(name, sizeof name, "%s.env", id);
	if (unlinkat(q->dirfd, name, 0) < 0 && errno != ENOENT)
		return err_set(e, ERR_IOERR, "cannot remove queue entry %s: %s",
			       id, strerror(errno));
	if (queue_fsync_dir(q->dirfd, e) < 0)
		return -1;
	snprintf(name, sizeof name, "%s.msg", id);
	unlinkat(q->dirfd, name, 0);
	return 0;
}

int queue_move_failed(struct queue *q, struct queue_entry *ent,
		      const char *reason, struct err *e)
{
	char msg[128];
	int r, ffd;

	if (reason != ent->last_error) {        /* it may be the same string */
		char *copy = strdup(reason);

		if (copy == NULL)
			return queue_oom(e);
		free(ent->last_error);
		ent->last_error = copy;
	}
	if (queue_check_entry(ent, e) < 0) {     /* before anything moves */
		err_prefix(e, "invalid queue entry");
		return -1;
	}
	ffd = queue_failed_fd(q, e);
	if (ffd < 0)
		return -1;
	snprintf(msg, sizeof msg, "%s.msg", ent->id);
	/* message first, then its envelope, then drop the live envelope */
	r = renameat(q->dirfd, msg, ffd, msg) < 0
		? err_set(e, ERR_IOERR, "cannot move %s to failed/: %s", ent->id,
			  strerror(errno))
		: queue_write_env(q, ent, ffd, e);
	if (r == 0)
		fsync(ffd);
	close(ffd);
	if (r < 0)
		return -1;
	return queue_remove(q, ent->id, e);
}

/* ---- reading envelopes back ------------------------------------------- */

void queue_entry_clear(struct queue_entry *ent)
{
	size_t i;

	free(ent->account);
	free(ent->from);
	free(ent->config);
	free(ent->dsn_notify);
	free(ent->dsn_return);
	free(ent->last_error);
	for (i = 0; i < ent->nrcpts; i++) {
		free(ent->rcpts[i].addr);
		free(ent->rcpts[i].reply);
	}
	free(ent->rcpts);
	memset(ent, 0, sizeof *ent);
}

void queue_entries_free(struct queue_entry *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		queue_entry_clear(&v[i]);
	free(v);
}

static int queue_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One word as the writer makes it: the bytes it always escapes (space,
 * control bytes) must not appear raw, and every '%' starts a %XX.  *out
 * is malloc'd and NUL-terminated; *outlen counts the decoded bytes, which
 * may include NUL (the callers check). */
static int queue_word(const char *p, size_t n, const char *what, char **out,
		      size_t *outlen, struct err *e)
{
	char *o = malloc(n + 1);
	size_t i, k = 0;

	if (o == NULL)
		return queue_oom(e);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c <= 0x20 || c == 0x7f) {
			free(o);
			return err_set(e, ERR_DATAERR, "%s: unescaped space or "
				       "control byte", what);
		}
		if (c == '%') {
			int hi = i + 2 < n ? queue_hexval(p[i + 1]) : -1;
			int lo = i + 2 < n ? queue_hexval(p[i + 2]) : -1;

			if (hi < 0 || lo < 0) {
				free(o);
				return err_set(e, ERR_DATAERR, "%s: bad %%-escape",
					       what);
			}
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		}
		o[k++] = (char)c;
	}
	o[k] = '\0';
	*out = o;
	*outlen = k;
	return 0;
}

/* A decimal number, digits only, 0..max. */
static int queue_number(const char *p, size_t n, unsigned long long max,
			const char *what, unsigned long long *out, struct err *e)
{
	unsigned long long v = 0;
	size_t i, neg = n > 0 && p[0] == '-';

	if (n == neg || !queue_digits(p + neg, n - neg))
		return err_set(e, ERR_DATAERR, "%s is not a number", what);
	if (neg)
		return err_set(e, ERR_DATAERR, "%s is negative", what);
	for (i = 0; i < n; i++) {
		unsigned d = (unsigned)(p[i] - '0');

		if (v > max / 10 || (v == max / 10 && d > max % 10))
			return err_set(e, ERR_DATAERR, "%s out of range (0..%llu)",
				       what, max);
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* The state of one parse: keys seen so far, where the recipients grow. */
struct queue_parse {
	struct queue_entry *ent;
	const char *want_id;    /* the file name's stem */
	unsigned seen;          /* bit per queue_keys[] index */
	size_t rcap;
};

typedef int (*queue_key_fn)(struct queue_parse *ps, const char *v, size_t n,
			    struct err *e);

static int queue_key_id(struct queue_parse *ps, const char *v, size_t n,
			struct err *e)
{
	char shown[QUEUE_SHOW_BUF];
	char *id;
	size_t len;
	int r = 0;

	if (queue_word(v, n, "id", &id, &len, e) < 0)
		return -1;
	queue_show(shown, sizeof shown, id, len);
	if (strlen(id) != len || !queue_id_valid(id))
		r = err_set(e, ERR_DATAERR, "id \"%s\" is not a queue id", shown);
	else if (strcmp(id, ps->want_id) != 0)
		r = err_set(e, ERR_DATAERR, "id \"%s\" does not match the file "
			    "name", shown);
	else
		snprintf(ps->ent->id, sizeof ps->ent->id, "%s", id);
	free(id);
	return r;
}

/* Decode a word into *dst after `check` accepts it. */
static int queue_key_string(const char *v, size_t n, const char *what,
			    int (*check)(const char *, size_t, struct err *),
			    char **dst, struct err *e)
{
	size_t len;

	if (queue_word(v, n, what, dst, &len, e) < 0)
		return -1;
	if (check(*dst, len, e) < 0) {
		free(*dst);
		*dst = NULL;
		return -1;
	}
	return 0;
}

static int queue_key_account(struct queue_parse *ps, const char *v, size_t n,
			     struct err *e)
{
	return queue_key_string(v, n, "account", queue_check_account,
				&ps->ent->account, e);
}

static int queue_check_from(const char *s, size_t n, struct err *e)
{
	return queue_check_addr(s, n, 1, "from", e);
}

/* "from %00" (what the writer makes) or an empty value: the null sender */
static int queue_key_from(struct queue_parse *ps, const char *v, size_t n,
			  struct err *e)
{
	if (n == 0 || (n == 3 && memcmp(v, "%00", 3) == 0)) {
		ps->ent->from = strdup("");
		return ps->ent->from ? 0 : queue_oom(e);
	}
	return queue_key_string(v, n, "from", queue_check_from, &ps->ent->from, e);
}

static int queue_key_config(struct queue_parse *ps, const char *v, size_t n,
			    struct err *e)
{
	return queue_key_string(v, n, "config", queue_check_config,
				&ps->ent->config, e);
}

static int queue_key_dsn_notify(struct queue_parse *ps, const char *v,
				size_t n, struct err *e)
{
	return queue_key_string(v, n, "dsn-notify", queue_check_dsn_notify,
				&ps->ent->dsn_notify, e);
}

static int queue_key_dsn_return(struct queue_parse *ps, const char *v,
				size_t n, struct err *e)
{
	return queue_key_string(v, n, "dsn-return", queue_check_dsn_return,
				&ps->ent->dsn_return, e);
}

static int queue_check_text(const char *s, size_t n, struct err *e)
{
	return queue_check_printable(s, n, QUEUE_TEXT_MAX, "last-error", e);
}

static int queue_key_last_error(struct queue_parse *ps, const char *v,
				size_t n, struct err *e)
{
	return queue_key_string(v, n, "last-error", queue_check_text,
				&ps->ent->last_error, e);
}

static int queue_key_queued(struct queue_parse *ps, const char *v, size_t n,
			    struct err *e)
{
	unsigned long long x;

	if (queue_number(v, n, QUEUE_TIME_MAX, "queued", &x, e) < 0)
		return -1;
	ps->ent->queued = (time_t)x;
	return 0;
}

static int queue_key_next(struct queue_parse *ps, const char *v, size_t n,
			  struct err *e)
{
	unsigned long long x;

	if (queue_number(v, n, QUEUE_TIME_MAX, "next", &x, e) < 0)
		return -1;
	ps->ent->next = (time_t)x;
	return 0;
}

static int queue_key_attempts(struct queue_parse *ps, const char *v, size_t n,
			      struct err *e)
{
	unsigned long long x;

	if (queue_number(v, n, QUEUE_ATTEMPTS_MAX, "attempts", &x, e) < 0)
		return -1;
	ps->ent->attempts = (int)x;
	return 0;
}

static int queue_key_size(struct queue_parse *ps, const char *v, size_t n,
			  struct err *e)
{
	return queue_number(v, n, QUEUE_SIZE_MAX, "size", &ps->ent->size, e);
}

static int queue_key_maybe_dup(struct queue_parse *ps, const char *v, size_t n,
			       struct err *e)
{
	unsigned long long x;

	if (queue_number(v, n, 1, "maybe-duplicate", &x, e) < 0)
		return -1;
	ps->ent->maybe_duplicate = (int)x;
	return 0;
}

/* Room for one more recipient (doubling, bounded by ADDR_MAX_COUNT). */
static struct queue_rcpt *queue_rcpt_slot(struct queue_parse *ps,
					  struct err *e)
{
	struct queue_entry *ent = ps->ent;

	if (ent->nrcpts >= ADDR_MAX_COUNT) {
		err_set(e, ERR_DATAERR, "too many recipients");
		return NULL;
	}
	if (ent->nrcpts == ps->rcap) {
		size_t nc = ps->rcap ? ps->rcap * 2 : 4;
		struct queue_rcpt *nr = realloc(ent->rcpts, nc * sizeof *nr);

		if (nr == NULL) {
			queue_oom(e);
			return NULL;
		}
		ent->rcpts = nr;
		ps->rcap = nc;
	}
	memset(&ent->rcpts[ent->nrcpts], 0, sizeof *ent->rcpts);
	return &ent->rcpts[ent->nrcpts];
}

static int queue_rcpt_state(const char *s, size_t n, const char *what,
			    enum queue_rcpt_state *out, struct err *e)
{
	char shown[QUEUE_SHOW_BUF];

	if (n == 7 && memcmp(s, "pending", 7) == 0)
		*out = QUEUE_PENDING;
	else if (n == 9 && memcmp(s, "delivered", 9) == 0)
		*out = QUEUE_DELIVERED;
	else if (n == 6 && memcmp(s, "failed", 6) == 0)
		*out = QUEUE_FAILED;
	else {
		queue_show(shown, sizeof shown, s, n);
		return err_set(e, ERR_DATAERR, "%s: unknown state \"%s\"", what,
			       shown);
	}
	return 0;
}

/* Split "STATE ADDRESS [REPLY]" at its spaces: f[0..2], *nf fields. */
static int queue_rcpt_fields(const char *v, size_t n, const char *f[3],
			     size_t fl[3], const char *what, struct err *e)
{
	size_t nf = 0, start = 0, i;

	for (i = 0; i <= n; i++) {
		if (i < n && v[i] != ' ')
			continue;
		if (nf == 3)
			return err_set(e, ERR_DATAERR, "%s: extra fields", what);
		f[nf] = v + start;
		fl[nf++] = i - start;
		start = i + 1;
	}
	if (nf < 2)
		return err_set(e, ERR_DATAERR, "%s: no address", what);
	if (nf == 2)
		f[2] = NULL;
	return 0;
}

/* "rcpt STATE ADDRESS [REPLY]" */
static int queue_key_rcpt(struct queue_parse *ps, const char *v, size_t n,
			  struct err *e)
{
	const char *f[3];
	struct queue_rcpt *r;
	char what[64], rwhat[80];
	size_t fl[3], len;

	snprintf(what, sizeof what, "rcpt %zu", ps->ent->nrcpts + 1);
	snprintf(rwhat, sizeof rwhat, "rcpt %zu reply", ps->ent->nrcpts + 1);
	if (queue_rcpt_fields(v, n, f, fl, what, e) < 0
	    || (r = queue_rcpt_slot(ps, e)) == NULL
	    || queue_rcpt_state(f[0], fl[0], what, &r->state, e) < 0
	    || queue_word(f[1], fl[1], what, &r->addr, &len, e) < 0)
		return -1;
	ps->ent->nrcpts++;      /* owns r->addr from here on */
	if (queue_check_addr(r->addr, len, 0, what, e) < 0)
		return -1;
	if (f[2] == NULL)
		return 0;
	if (queue_word(f[2], fl[2], rwhat, &r->reply, &len, e) < 0)
		return -1;
	return queue_check_printable(r->reply, len, QUEUE_TEXT_MAX, rwhat, e);
}

enum {
	QUEUE_KEY_REQUIRED = 1, /* in every envelope */
	QUEUE_KEY_MULTI = 2,    /* may repeat */
	QUEUE_KEY_STUB = 4      /* in (and required in) an invalid-entry stub */
};

static const struct queue_key {
	const char *name;
	queue_key_fn fn;
	unsigned flags;
} queue_keys[] = {
	{ "id", queue_key_id, QUEUE_KEY_REQUIRED | QUEUE_KEY_STUB },
	{ "account", queue_key_account, QUEUE_KEY_REQUIRED },
	{ "from", queue_key_from, QUEUE_KEY_REQUIRED },
	{ "config", queue_key_config, 0 },
	{ "dsn-notify", queue_key_dsn_notify, 0 },
	{ "dsn-return", queue_key_dsn_return, 0 },
	{ "queued", queue_key_queued, QUEUE_KEY_REQUIRED | QUEUE_KEY_STUB },
	{ "next", queue_key_next, QUEUE_KEY_REQUIRED },
	{ "attempts", queue_key_attempts, QUEUE_KEY_REQUIRED },
	{ "size", queue_key_size, QUEUE_KEY_REQUIRED },
	{ "maybe-duplicate", queue_key_maybe_dup, QUEUE_KEY_REQUIRED },
	{ "last-error", queue_key_last_error, QUEUE_KEY_STUB },
	{ "rcpt", queue_key_rcpt, QUEUE_KEY_MULTI },
};

#define QUEUE_NKEYS (sizeof queue_keys / sizeof queue_keys[0])

/* One "key value" line (without its LF). */
static int queue_parse_line(struct queue_parse *ps, const char *line,
			    size_t l, int stub, struct err *e)
{
	char shown[QUEUE_SHOW_BUF];
	const char *sp = memchr(line, ' ', l);
	size_t klen = sp ? (size_t)(sp - line) : l, k;
	const struct queue_key *key = NULL;

	for (k = 0; k < QUEUE_NKEYS && key == NULL; k++)
		if (klen == strlen(queue_keys[k].name)
		    && memcmp(line, queue_keys[k].name, klen) == 0)
			key = &queue_keys[k];
	queue_show(shown, sizeof shown, line, klen);
	if (key == NULL || (stub && !(key->flags & QUEUE_KEY_STUB)))
		return err_set(e, ERR_DATAERR, "unknown key \"%s\"", shown);
	k = (size_t)(key - queue_keys);
	if ((ps->seen & (1u << k)) && !(key->flags & QUEUE_KEY_MULTI))
		return err_set(e, ERR_DATAERR, "duplicate \"%s\"", key->name);
	ps->seen |= 1u << k;
	if (sp == NULL)
		return err_set(e, ERR_DATAERR, "\"%s\" has no value", key->name);
	return key->fn(ps, sp + 1, l - klen - 1, e);
}

/* The first line: which kind of file this is (0 envelope, 1 stub). */
static int queue_parse_magic(const char *text, size_t len, int allow_stub,
			     size_t *used, struct err *e)
{
	char shown[QUEUE_SHOW_BUF];
	const char *nl = memchr(text, '\n', len);
	size_t l = nl ? (size_t)(nl - text) : len, pl = strlen(QUEUE_MAGIC_PREFIX);

	*used = l + 1;
	if (nl && l == strlen(QUEUE_MAGIC) && memcmp(text, QUEUE_MAGIC, l) == 0)
		return 0;
	if (nl && allow_stub && l == strlen(QUEUE_STUB_MAGIC)
	    && memcmp(text, QUEUE_STUB_MAGIC, l) == 0)
		return 1;
	if (l > pl && memcmp(text, QUEUE_MAGIC_PREFIX, pl) == 0) {
		queue_show(shown, sizeof shown, text + pl, l - pl);
		return err_set(e, ERR_DATAERR, "unsupported envelope version "
			       "\"%s\"", shown);
	}
	return err_set(e, ERR_DATAERR, "not a queue envelope");
}

/* Every required key is there (the stub's keys, for a stub). */
static int queue_parse_complete(const struct queue_parse *ps, int stub,
				struct err *e)
{
	size_t k;

	for (k = 0; k < QUEUE_NKEYS; k++) {
		unsigned need = stub ? QUEUE_KEY_STUB : QUEUE_KEY_REQUIRED;

		if ((queue_keys[k].flags & need) && !(ps->seen & (1u << k)))
			return err_set(e, ERR_DATAERR, "missing \"%s\"",
				       queue_keys[k].name);
	}
	if (!stub && ps->ent->nrcpts == 0)
		return err_set(e, ERR_DATAERR, "no recipients");
	return 0;
}

/* Parse and check a whole envelope (or, with allow_stub, the stub of an
 * invalid entry in failed/).  On failure ent is cleared and e says why. */
int queue_parse_env(const char *text, size_t len, const char *want_id,
		    int allow_stub, struct queue_entry *ent, struct err *e)
{
	struct queue_parse ps;
	size_t used, lineno = 1;
	const char *p, *end = text + len;
	int stub, ended = 0;

	memset(ent, 0, sizeof *ent);
	memset(&ps, 0, sizeof ps);
	ps.ent = ent;
	ps.want_id = want_id;
	stub = queue_parse_magic(text, len, allow_stub, &used, e);
	if (stub < 0)
		return -1;
	for (p = text + used; p < end && !ended; lineno++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (nl == NULL)
			err_set(e, ERR_DATAERR, "no newline at the end");
		else if (l > QUEUE_LINE_MAX)
			err_set(e, ERR_DATAERR, "longer than %d bytes",
				QUEUE_LINE_MAX);
		else if (l == 3 && memcmp(p, "END", 3) == 0)
			ended = 1;
		else
			queue_parse_line(&ps, p, l, stub, e);
		if (err_isset(e)) {
			err_prefix(e, "line %zu", lineno + 1);
			break;
		}
		p += l + 1;
	}
	if (!err_isset(e) && !ended)
		err_set(e, ERR_DATAERR, "missing END line");
	if (!err_isset(e) && p != end)
		err_set(e, ERR_DATAERR, "data after the END line");
	if (err_isset(e) || queue_parse_complete(&ps, stub, e) < 0) {
		queue_entry_clear(ent);
		return -1;
	}
	return 0;
}

/* Read name in dirfd without following a symbolic link or blocking on a
 * FIFO, and only when the open file is the queue's kind (see
 * queue_file_problem) and at most QUEUE_ENV_MAX bytes (the size fstat
 * reports on the open file is what is read): 1 read; 0
 * missing; -1 I/O error; -2 not acceptable (e says why). */
static int queue_read_file(const struct queue *q, int dirfd,
			   const char *name, struct buf *b,
			   struct err *e)
{
	char chunk[4096];
	const char *bad = NULL;
	struct stat st;
	ssize_t n = 0;
	size_t want = 0;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK
			| O_NOCTTY);

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 && errno == ELOOP)
		bad = "a symbolic link";
	else if (fd < 0 || fstat(fd, &st) < 0)
		n = -1;
	else if ((bad = queue_file_problem(q, &st)) != NULL)
		;
	else if (st.st_size > QUEUE_ENV_MAX)
		bad = "larger than 4 MiB";
	else
		want = (size_t)st.st_size;
	/* the size fstat gave, not up to an EOF read: envelopes are
	 * replaced by rename, never written in place, and bytes appended
	 * meanwhile would only be cut off (the parser wants END last) - one
	 * read per envelope instead of two, twice per entry in a queue run */
	while (!bad && n == 0 && b->len < want
	       && (n = read(fd, chunk, sizeof chunk)) > 0) {
		if (buf_append(b, chunk, (size_t)n) < 0) {
			if (errno != E2BIG)
				break;  /* n > 0: out of memory */
			bad = "larger than 4 MiB";
		}
		n = 0;
	}
	if (n < 0)
		err_set(e, ERR_IOERR, "cannot read %s: %s", name, strerror(errno));
	else if (n > 0)
		queue_oom(e);
	if (fd >= 0)
		close(fd);
	if (bad) {
		err_set(e, ERR_DATAERR, "%s", bad);
		return -2;
	}
	return n == 0 ? 1 : -1;
}

/* dirfd/ID.env, read and checked: 1 loaded; 0 missing; -1 I/O error or
 * out of memory; -2 not a valid envelope (e says why).  Running out of
 * memory while parsing says nothing about the file: never -2. */
static int queue_load_at(const struct queue *q, int dirfd, const char *id,
			 int allow_stub,
			 struct queue_entry *ent, struct err *e)
{
	struct buf b;
	char name[128];
	int r;

	memset(ent, 0, sizeof *ent);
	snprintf(name, sizeof name, "%s.env", id);
	buf_init(&b, QUEUE_ENV_MAX);
	r = queue_read_file(q, dirfd, name, &b, e);
	if (r == 1 && queue_parse_env(b.data ? b.data : "", b.len, id,
				      allow_stub, ent, e) < 0) {
		r = -2;
		if (e->code == ERR_OSERR) {     /* not the file's fault */
			queue_entry_clear(ent);
			err_init(e);
			r = queue_oom(e);
		}
	}
	buf_free(&b);
	return r;
}

/* The time to show for an entry whose envelope cannot be read: its
 * file's mtime, kept in the envelope's range. */
static time_t queue_mtime(int dirfd, const char *name)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_mtime < 0)
		return 0;
	return st.st_mtime > QUEUE_TIME_MAX ? (time_t)QUEUE_TIME_MAX : st.st_mtime;
}

/* Lock `name` if it is a file of the queue's kind (queue_file_problem,
 * judged on the open descriptor, so what is locked is what was checked):
 * 1 locked (*fd), 0 busy, -1 not lockable, *why saying why (ENOENT
 * missing, ELOOP a link, EINVAL not acceptable - *problem says how -
 * else the errno). */
static int queue_try_lock(const struct queue *q, int dirfd, const char *name,
			  int *fd, int *why,
			  const char **problem)
{
	struct stat st;

	*why = 0;
	*problem = "not a regular file";
	*fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK
		     | O_NOCTTY);
	if (*fd < 0) {
		*why = errno;
		return -1;
	}
	if (fstat(*fd, &st) < 0 || (*problem = queue_file_problem(q, &st)) != NULL)
		*why = EINVAL;
	else if (flock(*fd, LOCK_EX | LOCK_NB) < 0)
		*why = errno == EWOULDBLOCK ? EWOULDBLOCK : errno;
	else
		return 1;
	close(*fd);
	*fd = -1;
	return *why == EWOULDBLOCK ? 0 : -1;
}

/* The small envelope the queue writes in failed/ for an entry it could
 * not trust: id, the time, the reason. */
static int queue_write_stub(struct queue *q, int ffd, const char *id,
			    time_t when, const char *reason, struct err *e)
{
	struct buf b;
	char tmpname[128], dest[128];
	int r;

	buf_init(&b, QUEUE_LINE_MAX);
	r = buf_printf(&b, "%s\nid %s\nqueued %lld\nlast-error ",
		       QUEUE_STUB_MAGIC, id, (long long)when);
	r |= queue_put_text(&b, reason);
	r |= buf_append_str(&b, "\nEND\n");
	snprintf(tmpname, sizeof tmpname, "%s.stub.%ld", id, (long)getpid());
	snprintf(dest, sizeof dest, "%s.env", id);
	if (r == 0)
		r = queue_commit_file(q, tmpname, ffd, dest, b.data, b.len, e);
	else
		r = queue_oom(e);
	buf_free(&b);
	return r;
}

/* Rename dirfd/from to ffd/to, as it is (a link stays a link); a file
 * that is already gone is no error. */
static int queue_move_raw(int dirfd, const char *from, int ffd, const char *to,
			  struct err *e)
{
	if (renameat(dirfd, from, ffd, to) < 0 && errno != ENOENT)
		return err_set(e, ERR_IOERR, "cannot move %s to failed/: %s", from,
			       strerror(errno));
	return 0;
}

/* Move an entry whose files cannot be trusted to failed/ without reading
 * them again: first the stub (so the reason is never lost), then the
 * message file, then the raw envelope as ID.env.invalid.  `stem` is its
 * name in the queue, `id` (valid) its name in failed/.  With `lock`, an
 * entry a flusher holds is left for later.  1 moved, 0 busy, -1 error. */
static int queue_quarantine(struct queue *q, const char *stem, const char *id,
			    const char *reason, int lock, struct err *e)
{
	char env[QUEUE_NAME_BUF], msg[QUEUE_NAME_BUF], raw[128], fmsg[128];
	const char *problem;
	int lfd = -1, ffd, r, why;

	snprintf(env, sizeof env, "%s.env", stem);
	snprintf(msg, sizeof msg, "%s.msg", stem);
	snprintf(raw, sizeof raw, "%s.env.invalid", id);
	snprintf(fmsg, sizeof fmsg, "%s.msg", id);
	if (lock && queue_try_lock(q, q->dirfd, msg, &lfd, &why, &problem) == 0)
		return 0;
	ffd = queue_failed_fd(q, e);
	r = ffd < 0 ? -1 : queue_write_stub(q, ffd, id, queue_mtime(q->dirfd, env),
					    reason, e);
	if (r == 0)
		r = queue_move_raw(q->dirfd, msg, ffd, fmsg, e);
	if (r == 0)
		r = queue_move_raw(q->dirfd, env, ffd, raw, e);
	if (r == 0)
		fsync(ffd);
	if (r == 0)
		r = queue_fsync_dir(q->dirfd, e);
	if (ffd >= 0)
		close(ffd);
	queue_unlock(lfd);
	return r < 0 ? -1 : 1;
}

int queue_load(struct queue *q, const char *id, struct queue_entry *ent,
	       struct err *e)
{
	char reason[ERR_MSG_MAX + 32];
	struct err why, me;
	int r;

	memset(ent, 0, sizeof *ent);
	if (!queue_id_valid(id))
		return queue_bad_id(id, e);
	err_init(&why);
	r = queue_load_at(q, q->dirfd, id, 0, ent, &why);
	if (r == -1)
		return err_set(e, why.code, "%s", why.msg);
	if (r != -2)
		return r;
	snprintf(reason, sizeof reason, "invalid envelope: %s", why.msg);
	err_init(&me);
	r = queue_quarantine(q, id, id, reason, 0, &me);
	return err_set(e, ERR_DATAERR, "queue entry %s: %s%s", id, reason,
		       r == 1 ? "; moved to failed/" : "");
}

/* One live entry for the listing: 1 loaded; 0 gone, unreadable, or moved
 * to failed/ because its files cannot be trusted; -1 out of memory. */
static int queue_list_one(struct queue *q, const char *id,
			  struct queue_entry *ent)
{
	char reason[ERR_MSG_MAX + 32], msg[128], size[QUEUE_SIZE_WHY];
	const char *problem;
	struct err why, ignored;
	struct stat st;
	int r;

	err_init(&why);
	err_init(&ignored);
	r = queue_load_at(q, q->dirfd, id, 0, ent, &why);
	if (r == -1 && why.code == ERR_OSERR)
		return -1;
	if (r == -2) {
		snprintf(reason, sizeof reason, "invalid envelope: %s", why.msg);
		queue_quarantine(q, id, id, reason, 1, &ignored);
		return 0;
	}
	if (r != 1)
		return 0;
	snprintf(msg, sizeof msg, "%s.msg", id);
	if (fstatat(q->dirfd, msg, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 1;       /* not there yet: the lock decides */
	problem = queue_file_problem(q, &st);
	if (problem == NULL)
		problem = queue_size_problem(&st, ent, size, sizeof size);
	if (problem == NULL)
		return 1;
	queue_entry_clear(ent);
	snprintf(reason, sizeof reason, "invalid entry: the message file is %s",
		 problem);
	queue_quarantine(q, id, id, reason, 1, &ignored);
	return 0;
}

/* A *.env file whose name is no queue id at all: set aside in failed/
 * under a fresh id (with its .msg companion), the old name in the
 * reason, so it is visible there and never sent. */
static void queue_set_aside(struct queue *q, const char *name, size_t stemlen)
{
	char stem[QUEUE_NAME_BUF], shown[QUEUE_SHOW_BUF];
	char reason[QUEUE_SHOW_BUF + 64];
	struct queue_entry fresh;
	struct err ignored;

	if (stemlen >= sizeof stem)
		return;
	memcpy(stem, name, stemlen);
	stem[stemlen] = '\0';
	queue_new_id(&fresh);
	queue_show(shown, sizeof shown, name, strlen(name));
	snprintf(reason, sizeof reason, "invalid envelope: file name \"%s\" is "
		 "not a queue id", shown);
	err_init(&ignored);
	queue_quarantine(q, stem, fresh.id, reason, 0, &ignored);
}

static int queue_cmp(const void *a, const void *b)
{
	const struct queue_entry *x = a, *y = b;

	if (x->queued != y->queued)
		return x->queued < y->queued ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* The id part of a directory entry named ID.env (NULL otherwise). */
static int queue_env_name(const char *name, char *id, size_t idlen,
			  size_t *stemlen)
{
	size_t l = strlen(name);

	if (l <= 4 || strcmp(name + l - 4, ".env") != 0)
		return 0;
	*stemlen = l - 4;
	if (l - 4 >= idlen)
		id[0] = '\0';
	else {
		memcpy(id, name, l - 4);
		id[l - 4] = '\0';
	}
	return 1;
}

/* Grow v by one slot when full. */
static int queue_grow(struct queue_entry **v, size_t cnt, size_t *cap)
{
	struct queue_entry *nv;
	size_t nc;

	if (cnt < *cap)
		return 0;
	nc = *cap ? *cap * 2 : 16;
	nv = realloc(*v, nc * sizeof *nv);
	if (nv == NULL)
		return -1;
	*v = nv;
	*cap = nc;
	return 0;
}

/* One entry of failed/: its stub, its whole envelope, or - when even
 * that cannot be trusted - id, reason and file time.  1 kept, 0 gone,
 * -1 out of memory. */
static int queue_failed_one(const struct queue *q, int ffd, const char *id,
			    struct queue_entry *ent)
{
	char name[128];
	struct err why;
	size_t len;
	int r;

	err_init(&why);
	r = queue_load_at(q, ffd, id, 1, ent, &why);
	if (r >= 0)
		return r;
	if (why.code == ERR_OSERR)
		return -1;
	snprintf(ent->id, sizeof ent->id, "%s", id);
	snprintf(name, sizeof name, "%s.env", id);
	ent->queued = queue_mtime(ffd, name);
	len = strlen(why.msg) + 32;
	ent->last_error = malloc(len);
	if (ent->last_error == NULL)
		return -1;
	snprintf(ent->last_error, len, "%s%s", r == -2 ? "invalid envelope: "
		 : "", why.msg);
	return 1;
}

/* Walk the entries of directory fd: `one` fills v[cnt] and returns 1 to
 * keep it.  Entries are sorted oldest first. */
static int queue_walk(struct queue *q, int fd, int failed,
		      struct queue_entry **out, size_t *n, struct err *e)
{
	struct queue_entry *v = NULL;
	size_t cnt = 0, cap = 0, stemlen;
	struct dirent *de;
	char id[QUEUE_ID_MAX + 1];
	DIR *d = fdopendir(fd);
	int r;

	if (d == NULL) {
		r = errno;
		close(fd);
		if (r == ENOMEM)
			return queue_oom(e);
		return err_set(e, ERR_IOERR, "cannot read queue directory %s: %s",
			       q->dir, strerror(r));
	}
	rewinddir(d);           /* a dup shares its position with the original */
	while ((de = readdir(d)) != NULL) {
		if (!queue_env_name(de->d_name, id, sizeof id, &stemlen))
			continue;
		if (!queue_id_valid(id)) {
			if (!failed)
				queue_set_aside(q, de->d_name, stemlen);
			continue;
		}
		if (queue_grow(&v, cnt, &cap) < 0) {
			closedir(d);
			queue_entries_free(v, cnt);
			return queue_oom(e);
		}
		r = failed ? queue_failed_one(q, dirfd(d), id, &v[cnt])
			: queue_list_one(q, id, &v[cnt]);
		if (r < 0) {
			closedir(d);
			queue_entries_free(v, cnt);
			return queue_oom(e);
		}
		cnt += (size_t)r;
	}
	closedir(d);
	if (cnt > 1)
		qsort(v, cnt, sizeof *v, queue_cmp);
	*out = v;
	*n = cnt;
	return 0;
}

int queue_list(struct queue *q, struct queue_entry **out, size_t *n,
	       struct err *e)
{
	int fd = dup(q->dirfd);

	*out = NULL;
	*n = 0;
	if (fd < 0)
		return err_set(e, ERR_IOERR, "cannot read queue directory %s: %s",
			       q->dir, strerror(errno));
	return queue_walk(q, fd, 0, out, n, e);
}

int queue_list_failed(struct queue *q, struct queue_entry **out, size_t *n,
		      struct err *e)
{
	char shown[4200];
	struct stat st;
	int fd;

	*out = NULL;
	*n = 0;
	if (fstatat(q->dirfd, "failed", &st, AT_SYMLINK_NOFOLLOW) < 0
	    && errno == ENOENT)
		return 0;
	snprintf(shown, sizeof shown, "%s/failed", q->dir);
	fd = queue_open_subdir(q->dirfd, "failed", shown, e);
	if (fd < 0)
		return -1;
	return queue_walk(q, fd, 1, out, n, e);
}

/* ---- locking and reading ---------------------------------------------- */

int queue_lock(struct queue *q, const char *id, int *fd, struct err *e)
{
	const char *problem;
	char name[128];
	int r, why;

	*fd = -1;
	if (!queue_id_valid(id))
		return queue_bad_id(id, e);
	snprintf(name, sizeof name, "%s.msg", id);
	r = queue_try_lock(q, q->dirfd, name, fd, &why, &problem);
	if (r >= 0)
		return r;
	if (why == ENOENT)
		return 0;
	if (why == ELOOP || why == EINVAL)
		return err_set(e, ERR_IOERR, "cannot lock queue entry %s: the "
			       "message file is %s", id, problem);
	return err_set(e, ERR_IOERR, "cannot lock queue entry %s: %s", id,
		       strerror(why));
}

void queue_unlock(int fd)
{
	if (fd >= 0)
		close(fd);      /* closing drops the flock */
}

/* The entry's message for reading: the very file the caller locked (a
 * second descriptor of it, from the start), never whatever the name
 * points to by now, so a file swapped in after the checks is never
 * read.  Checked again on the descriptor: the queue's kind of file, no
 * larger than the envelope says; otherwise the entry goes to failed/. */
int queue_open_msg(struct queue *q, const struct queue_entry *ent, int lockfd,
		   struct err *e)
{
	char size[QUEUE_SIZE_WHY], reason[QUEUE_SIZE_WHY + 64];
	const char *problem = "not open";
	struct err me;
	struct stat st;
	int fd, r;

	if (!queue_id_valid(ent->id))
		return queue_bad_id(ent->id, e);
	if (lockfd >= 0 && fstat(lockfd, &st) == 0
	    && (problem = queue_file_problem(q, &st)) == NULL)
		problem = queue_size_problem(&st, ent, size, sizeof size);
	if (problem != NULL) {
		snprintf(reason, sizeof reason, "invalid entry: the message file "
			 "is %s", problem);
		err_init(&me);
		r = lockfd >= 0 ? queue_quarantine(q, ent->id, ent->id, reason, 0,
						   &me) : 0;
		return err_set(e, ERR_DATAERR, "queue entry %s: %s%s", ent->id,
			       reason, r == 1 ? "; moved to failed/" : "");
	}
	/* O_NONBLOCK (from the open, against FIFOs) stays: the file was
	 * just found regular, and reads of a regular file never block nor
	 * return EAGAIN - two fcntl calls per entry saved in queue runs */
	fd = fcntl(lockfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		int saved = errno;

		if (fd >= 0)
			close(fd);
		return err_set(e, ERR_IOERR, "cannot open queued message %s: %s",
			       ent->id, strerror(saved));
	}
	return fd;
}

/* tmp/: files of interrupted writes older than `age`. */
static void queue_cleanup_tmp(struct queue *q, time_t now, time_t age)
{
	struct dirent *de;
	DIR *d;
	int fd = dup(q->tmpfd);

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if (fstatat(q->tmpfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0
		    && !S_ISDIR(st.st_mode) && now - st.st_mtime > age)
			unlinkat(q->tmpfd, de->d_name, 0);
	}
	closedir(d);
}

/* ID.msg without ID.env, older than `age`, not locked: the tail of a
 * removal or an enqueue that never finished.  Only names that are ids
 * and files the queue could have written (queue_file_problem): anything
 * else is not the queue's to delete. */
static void queue_cleanup_orphan(struct queue *q, const char *name,
				 time_t now, time_t age)
{
	char id[QUEUE_ID_MAX + 1], env[128];
	size_t l = strlen(name);
	struct stat st;
	const char *problem;
	int lfd, why;

	if (l <= 4 || l - 4 > QUEUE_ID_MAX || strcmp(name + l - 4, ".msg") != 0)
		return;
	memcpy(id, name, l - 4);
	id[l - 4] = '\0';
	if (!queue_id_valid(id))
		return;
	snprintf(env, sizeof env, "%s.env", id);
	if (fstatat(q->dirfd, env, &st, AT_SYMLINK_NOFOLLOW) == 0
	    || errno != ENOENT)
		return;
	if (fstatat(q->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0
	    || queue_file_problem(q, &st) != NULL || now - st.st_mtime <= age)
		return;
	/* not locked by a flusher that is removing it right now */
	if (queue_try_lock(q, q->dirfd, name, &lfd, &why, &problem) == 1)
		unlinkat(q->dirfd, name, 0);
	queue_unlock(lfd);
}

void queue_cleanup(struct queue *q, time_t age)
{
	struct dirent *de;
	time_t now = time(NULL);
	DIR *d;
	int fd;

	queue_cleanup_tmp(q, now, age);
	fd = dup(q->dirfd);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL)
		queue_cleanup_orphan(q, de->d_name, now, age);
	closedir(d);
}

int queue_has_pending(const struct queue_entry *ent)
{
	size_t i;

	for (i = 0; i < ent->nrcpts; i++)
		if (ent->rcpts[i].state == QUEUE_PENDING)
			return 1;
	return 0;
}
