#include "config.h"
#include "queue.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"

#define QUEUE_ENV_MAX (4 * 1024 * 1024)
#define QUEUE_MAGIC "msmtp-queue-envelope 1"

struct queue {
	char *dir;
	int dirfd;
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

static int queue_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Escape spaces, control bytes and '%' as %XX so every value is one word. */
static int queue_put_word(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= 0x20 || c == 0x7f || c == '%') {
			if (buf_printf(b, "%%%02X", c) < 0)
				return -1;
		} else if (buf_append_byte(b, (char)c) < 0) {
			return -1;
		}
	}
	return 0;
}

static char *queue_unescape(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	size_t i, o = 0;

	if (out == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n
		    && isxdigit((unsigned char)s[i + 1])
		    && isxdigit((unsigned char)s[i + 2])) {
			char hex[3] = { s[i + 1], s[i + 2], '\0' };

			out[o++] = (char)strtol(hex, NULL, 16);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

static const char *queue_state_name(enum queue_rcpt_state s)
{
	return s == QUEUE_DELIVERED ? "delivered" : s == QUEUE_FAILED
		? "failed" : "pending";
}

/* ---- opening ---------------------------------------------------------- */

static int queue_mkdir(const char *path, struct err *e)
{
	struct stat st;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return err_set(e, ERR_CANTCREAT, "cannot create queue directory "
			       "%s: %s", path, strerror(errno));
	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return err_set(e, ERR_CANTCREAT, "queue directory %s is not a "
			       "directory", path);
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
	q->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (q->dirfd < 0) {
		queue_close(q);
		return err_set(e, ERR_CANTCREAT, "cannot open queue directory "
			       "%s: %s", dir, strerror(errno));
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
	free(q->dir);
	free(q);
}

const char *queue_dir(const struct queue *q)
{
	return q->dir;
}

void queue_new_id(struct queue_entry *ent)
{
	unsigned long long r = 0;
	time_t now = time(NULL);
	struct tm tm;

	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
		r = (unsigned long long)now ^ ((unsigned long long)getpid() << 32)
			^ (unsigned long long)clock();
	gmtime_r(&now, &tm);
	snprintf(ent->id, sizeof ent->id, "%04d%02d%02d%02d%02d%02d-%ld-%08llx",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (long)getpid(), r & 0xffffffffULL);
}

/* ---- envelopes -------------------------------------------------------- */

static int queue_format_env(const struct queue_entry *ent, struct buf *b)
{
	size_t i;
	int r = 0;

	r |= buf_printf(b, "%s\nid %s\naccount ", QUEUE_MAGIC, ent->id);
	r |= queue_put_word(b, ent->account ? ent->account : "");
	r |= buf_append_str(b, "\nfrom ");
	r |= queue_put_word(b, ent->from ? ent->from : "");
	if (ent->from && *ent->from == '\0')
		r |= buf_append_str(b, "%00");  /* the null sender */
	r |= buf_append_byte(b, '\n');
	if (ent->dsn_notify) {
		r |= buf_append_str(b, "dsn-notify ");
		r |= queue_put_word(b, ent->dsn_notify);
		r |= buf_append_byte(b, '\n');
	}
	if (ent->dsn_return) {
		r |= buf_append_str(b, "dsn-return ");
		r |= queue_put_word(b, ent->dsn_return);
		r |= buf_append_byte(b, '\n');
	}
	r |= buf_printf(b, "queued %lld\nnext %lld\nattempts %d\nsize %llu\n"
			"maybe-duplicate %d\n", (long long)ent->queued,
			(long long)ent->next, ent->attempts, ent->size,
			ent->maybe_duplicate);
	if (ent->last_error) {
		r |= buf_append_str(b, "last-error ");
		r |= queue_put_word(b, ent->last_error);
		r |= buf_append_byte(b, '\n');
	}
	for (i = 0; i < ent->nrcpts; i++) {
		r |= buf_printf(b, "rcpt %s ", queue_state_name(ent->rcpts[i].state));
		r |= queue_put_word(b, ent->rcpts[i].addr);
		if (ent->rcpts[i].reply) {
			r |= buf_append_byte(b, ' ');
			r |= queue_put_word(b, ent->rcpts[i].reply);
		}
		r |= buf_append_byte(b, '\n');
	}
	r |= buf_append_str(b, "END\n");
	return r ? -1 : 0;
}

/* Write `data` to tmp/NAME, fsync it, rename it to DEST (relative to the
 * queue dir).  The caller syncs the directory. */
static int queue_commit_file(struct queue *q, const char *tmpname,
			     const char *dest, const char *data, size_t len,
			     struct err *e)
{
	char tmp[512];
	int fd;

	snprintf(tmp, sizeof tmp, "tmp/%s", tmpname);
	fd = openat(q->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(e, ERR_IOERR, "cannot write to the queue: %s",
			       strerror(errno));
	if (queue_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		int saved = errno;

		close(fd);
		unlinkat(q->dirfd, tmp, 0);
		return err_set(e, ERR_IOERR, "cannot write to the queue: %s",
			       strerror(saved));
	}
	if (close(fd) < 0 || renameat(q->dirfd, tmp, q->dirfd, dest) < 0) {
		int saved = errno;

		unlinkat(q->dirfd, tmp, 0);
		return err_set(e, ERR_IOERR, "cannot write to the queue: %s",
			       strerror(saved));
	}
	return 0;
}

int queue_save(struct queue *q, const struct queue_entry *ent, struct err *e)
{
	struct buf b;
	char tmpname[128], dest[128];
	int r;

	buf_init(&b, QUEUE_ENV_MAX);
	if (queue_format_env(ent, &b) < 0) {
		buf_free(&b);
		return err_set(e, ERR_IOERR, "queue envelope too large");
	}
	snprintf(tmpname, sizeof tmpname, "%s.env.%ld", ent->id, (long)getpid());
	snprintf(dest, sizeof dest, "%s.env", ent->id);
	r = queue_commit_file(q, tmpname, dest, b.data, b.len, e);
	buf_free(&b);
	if (r == 0)
		r = queue_fsync_dir(q->dirfd, e);
	return r;
}

/* Copy the message stream into tmp/ID.msg and fsync it. */
static int queue_write_msg(struct queue *q, const char *id, struct msg *m,
			   struct err *e)
{
	static char chunk[MSG_CHUNK];
	char tmp[512];
	ssize_t n;
	int fd, saved = 0;

	snprintf(tmp, sizeof tmp, "tmp/%s.msg", id);
	fd = openat(q->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(e, ERR_IOERR, "cannot write to the queue: %s",
			       strerror(errno));
	if (msg_stream_rewind(m, e) < 0)
		goto fail;
	while ((n = msg_stream_read(m, chunk, sizeof chunk, e)) > 0)
		if (queue_write_all(fd, chunk, (size_t)n) < 0) {
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
	unlinkat(q->dirfd, tmp, 0);
	return err_set(e, ERR_IOERR, "cannot write to the queue: %s",
		       strerror(saved ? saved : EIO));
}

int queue_add(struct queue *q, const struct queue_entry *ent, struct msg *m,
	      struct err *e)
{
	char tmp[512], dest[512];

	if (queue_write_msg(q, ent->id, m, e) < 0)
		return -1;
	snprintf(tmp, sizeof tmp, "tmp/%s.msg", ent->id);
	snprintf(dest, sizeof dest, "%s.msg", ent->id);
	if (renameat(q->dirfd, tmp, q->dirfd, dest) < 0) {
		int saved = errno;

		unlinkat(q->dirfd, tmp, 0);
		return err_set(e, ERR_IOERR, "cannot write to the queue: %s",
			       strerror(saved));
	}
	/* the envelope's arrival commits the entry */
	if (queue_save(q, ent, e) < 0) {
		unlinkat(q->dirfd, dest, 0);
		return -1;
	}
	return 0;
}

int queue_remove(struct queue *q, const char *id, struct err *e)
{
	char name[512];

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
	struct buf b;
	char tmpname[128], dest[128], msgsrc[128], msgdest[128];
	int r, fdir;

	if (mkdirat(q->dirfd, "failed", 0700) < 0 && errno != EEXIST)
		return err_set(e, ERR_IOERR, "cannot create %s/failed: %s", q->dir,
			       strerror(errno));
	if (reason != ent->last_error) {        /* it may be the same string */
		char *copy = strdup(reason);

		free(ent->last_error);
		ent->last_error = copy;
	}
	buf_init(&b, QUEUE_ENV_MAX);
	if (queue_format_env(ent, &b) < 0) {
		buf_free(&b);
		return err_set(e, ERR_IOERR, "queue envelope too large");
	}
	snprintf(tmpname, sizeof tmpname, "%s.env.%ld", ent->id, (long)getpid());
	snprintf(dest, sizeof dest, "failed/%s.env", ent->id);
	snprintf(msgsrc, sizeof msgsrc, "%s.msg", ent->id);
	snprintf(msgdest, sizeof msgdest, "failed/%s.msg", ent->id);
	/* message first, then its envelope, then drop the live envelope */
	r = renameat(q->dirfd, msgsrc, q->dirfd, msgdest) < 0
		? err_set(e, ERR_IOERR, "cannot move %s to failed/: %s", ent->id,
			  strerror(errno))
		: queue_commit_file(q, tmpname, dest, b.data, b.len, e);
	buf_free(&b);
	if (r < 0)
		return -1;
	fdir = openat(q->dirfd, "failed", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fdir >= 0) {
		fsync(fdir);
		close(fdir);
	}
	return queue_remove(q, ent->id, e);
}

/* ---- loading ---------------------------------------------------------- */

void queue_entry_clear(struct queue_entry *ent)
{
	size_t i;

	free(ent->account);
	free(ent->from);
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

static int queue_add_rcpt(struct queue_entry *ent, const char *rest)
{
	const char *sp1 = strchr(rest, ' ');
	const char *addr, *sp2;
	struct queue_rcpt *nr, *r;

	if (sp1 == NULL)
		return -1;
	nr = realloc(ent->rcpts, (ent->nrcpts + 1) * sizeof *nr);
	if (nr == NULL)
		return -1;
	ent->rcpts = nr;
	r = &nr[ent->nrcpts];
	memset(r, 0, sizeof *r);
	r->state = strncmp(rest, "delivered", 9) == 0 ? QUEUE_DELIVERED
		: strncmp(rest, "failed", 6) == 0 ? QUEUE_FAILED : QUEUE_PENDING;
	addr = sp1 + 1;
	sp2 = strchr(addr, ' ');
	r->addr = queue_unescape(addr, sp2 ? (size_t)(sp2 - addr) : strlen(addr));
	if (sp2)
		r->reply = queue_unescape(sp2 + 1, strlen(sp2 + 1));
	if (r->addr == NULL)
		return -1;
	ent->nrcpts++;
	return 0;
}

/* One "key value" line of an envelope. */
static int queue_parse_line(struct queue_entry *ent, const char *line)
{
	const char *sp = strchr(line, ' ');
	const char *v = sp ? sp + 1 : "";
	size_t klen = sp ? (size_t)(sp - line) : strlen(line);

#define KEY(k) (klen == strlen(k) && strncmp(line, k, klen) == 0)
	if (KEY("id"))
		snprintf(ent->id, sizeof ent->id, "%s", v);
	else if (KEY("account"))
		return (ent->account = queue_unescape(v, strlen(v))) ? 0 : -1;
	else if (KEY("from")) {
		ent->from = queue_unescape(v, strlen(v));
		return ent->from ? 0 : -1;
	} else if (KEY("dsn-notify"))
		return (ent->dsn_notify = queue_unescape(v, strlen(v))) ? 0 : -1;
	else if (KEY("dsn-return"))
		return (ent->dsn_return = queue_unescape(v, strlen(v))) ? 0 : -1;
	else if (KEY("last-error"))
		return (ent->last_error = queue_unescape(v, strlen(v))) ? 0 : -1;
	else if (KEY("queued"))
		ent->queued = (time_t)strtoll(v, NULL, 10);
	else if (KEY("next"))
		ent->next = (time_t)strtoll(v, NULL, 10);
	else if (KEY("attempts"))
		ent->attempts = (int)strtol(v, NULL, 10);
	else if (KEY("size"))
		ent->size = strtoull(v, NULL, 10);
	else if (KEY("maybe-duplicate"))
		ent->maybe_duplicate = (int)strtol(v, NULL, 10);
	else if (KEY("rcpt"))
		return queue_add_rcpt(ent, v);
#undef KEY
	return 0;
}

static int queue_read_env(int dirfd, const char *name, struct buf *b)
{
	char chunk[4096];
	ssize_t n;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	while ((n = read(fd, chunk, sizeof chunk)) > 0)
		if (buf_append(b, chunk, (size_t)n) < 0) {
			close(fd);
			return -1;
		}
	close(fd);
	return n < 0 ? -1 : 1;
}

/* Parse an envelope; -1 if it is incomplete or not ours. */
static int queue_parse_env(const char *text, size_t len, struct queue_entry *ent)
{
	const char *p = text, *end = text + len;
	int ended = 0, first = 1;
	char line[65536];

	memset(ent, 0, sizeof *ent);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (l >= sizeof line)
			goto bad;
		memcpy(line, p, l);
		line[l] = '\0';
		p += l + (nl ? 1 : 0);
		if (first) {
			if (strcmp(line, QUEUE_MAGIC) != 0)
				goto bad;
			first = 0;
			continue;
		}
		if (strcmp(line, "END") == 0) {
			ended = 1;
			break;
		}
		if (queue_parse_line(ent, line) < 0)
			goto bad;
	}
	if (!ended || ent->account == NULL || ent->from == NULL
	    || ent->nrcpts == 0)
		goto bad;
	/* "%00" marks the null sender */
	return 0;
bad:
	queue_entry_clear(ent);
	return -1;
}

int queue_load(struct queue *q, const char *id, struct queue_entry *ent,
	       struct err *e)
{
	struct buf b;
	char name[512];
	int r;

	snprintf(name, sizeof name, "%s.env", id);
	buf_init(&b, QUEUE_ENV_MAX);
	r = queue_read_env(q->dirfd, name, &b);
	if (r <= 0) {
		buf_free(&b);
		return r < 0 ? err_set(e, ERR_IOERR, "cannot read queue entry "
				       "%s: %s", id, strerror(errno)) : 0;
	}
	r = queue_parse_env(b.data, b.len, ent);
	buf_free(&b);
	if (r < 0)
		return err_set(e, ERR_IOERR, "queue entry %s is damaged", id);
	return 1;
}

static int queue_cmp(const void *a, const void *b)
{
	const struct queue_entry *x = a, *y = b;

	if (x->queued != y->queued)
		return x->queued < y->queued ? -1 : 1;
	return strcmp(x->id, y->id);
}

int queue_list(struct queue *q, struct queue_entry **out, size_t *n,
	       struct err *e)
{
	DIR *d;
	struct dirent *de;
	struct queue_entry *v = NULL;
	size_t cnt = 0, cap = 0;
	int fd = dup(q->dirfd);

	*out = NULL;
	*n = 0;
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return err_set(e, ERR_IOERR, "cannot read queue directory %s: %s",
			       q->dir, strerror(errno));
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		char id[64];
		struct err ignored;

		if (l < 5 || l - 4 >= sizeof id
		    || strcmp(de->d_name + l - 4, ".env") != 0)
			continue;
		memcpy(id, de->d_name, l - 4);
		id[l - 4] = '\0';
		if (cnt == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct queue_entry *nv = realloc(v, nc * sizeof *nv);

			if (nv == NULL) {
				closedir(d);
				queue_entries_free(v, cnt);
				return queue_oom(e);
			}
			v = nv;
			cap = nc;
		}
		err_init(&ignored);
		if (queue_load(q, id, &v[cnt], &ignored) == 1)
			cnt++;
	}
	closedir(d);
	if (cnt > 1)
		qsort(v, cnt, sizeof *v, queue_cmp);
	*out = v;
	*n = cnt;
	return 0;
}

/* ---- locking and reading ---------------------------------------------- */

int queue_lock(struct queue *q, const char *id, int *fd, struct err *e)
{
	char name[512];

	snprintf(name, sizeof name, "%s.msg", id);
	*fd = openat(q->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return errno == ENOENT ? 0 : err_set(e, ERR_IOERR, "cannot open "
			"queue entry %s: %s", id, strerror(errno));
	if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		close(*fd);
		*fd = -1;
		return 0;
	}
	return 1;
}

void queue_unlock(int fd)
{
	if (fd >= 0)
		close(fd);      /* closing drops the flock */
}

int queue_open_msg(struct queue *q, const char *id, struct err *e)
{
	char name[512];
	int fd;

	snprintf(name, sizeof name, "%s.msg", id);
	fd = openat(q->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, ERR_IOERR, "cannot open queued message %s: %s",
			       id, strerror(errno));
	return fd;
}

void queue_cleanup(struct queue *q, time_t age)
{
	DIR *d;
	struct dirent *de;
	time_t now = time(NULL);
	int tfd = openat(q->dirfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (tfd >= 0 && (d = fdopendir(tfd)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			struct stat st;

			if (de->d_name[0] == '.')
				continue;
			if (fstatat(dirfd(d), de->d_name, &st, 0) == 0
			    && now - st.st_mtime > age)
				unlinkat(dirfd(d), de->d_name, 0);
		}
		closedir(d);
	} else if (tfd >= 0) {
		close(tfd);
	}
	tfd = dup(q->dirfd);
	if (tfd < 0 || (d = fdopendir(tfd)) == NULL) {
		if (tfd >= 0)
			close(tfd);
		return;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		char env[512];
		struct stat st;
		int lfd;

		if (l < 5 || strcmp(de->d_name + l - 4, ".msg") != 0)
			continue;
		snprintf(env, sizeof env, "%.*s.env", (int)(l - 4), de->d_name);
		if (faccessat(q->dirfd, env, F_OK, 0) == 0)
			continue;
		if (fstatat(q->dirfd, de->d_name, &st, 0) < 0
		    || now - st.st_mtime <= age)
			continue;
		/* not locked by a flusher that is removing it right now */
		lfd = openat(q->dirfd, de->d_name, O_RDONLY | O_CLOEXEC);
		if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) == 0)
			unlinkat(q->dirfd, de->d_name, 0);
		if (lfd >= 0)
			close(lfd);
	}
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
