/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "tlscache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* How much of an account or host name goes into a file name. */
#define TLSCACHE_NAME_PART_MAX 64
/* Directory levels tlscache_save may create (msmtp/ and the XDG base). */
#define TLSCACHE_MKDIR_DEPTH 2

static char *tlscache_join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 1;
	char *s = malloc(n);

	if (s != NULL)
		snprintf(s, n, "%s%s", a, b);
	return s;
}

char *tlscache_dir(void)
{
	const char *base = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");

	if (base != NULL && base[0] == '/')
		return tlscache_join(base, "/msmtp");
	if (home != NULL && home[0] == '/')
		return tlscache_join(home, "/.cache/msmtp");
	return NULL;
}

#define TLSCACHE_FNV_START UINT64_C(0xcbf29ce484222325)

/* FNV-1a 64, continued from h over n bytes. */
static uint64_t tlscache_fnv_bytes(uint64_t h, const unsigned char *p,
				   size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

/* FNV-1a over the parts (with their terminating NULs): the file names
 * of "a_b" and "a/b" differ although both print as "a_b". */
static uint64_t tlscache_fnv(uint64_t h, const char *s)
{
	return tlscache_fnv_bytes(h, (const unsigned char *)s, strlen(s) + 1);
}

/* The file's check: FNV-1a of the 44 header bytes after the magic
 * (expiry, key, length) and of the data. */
static uint64_t tlscache_check(const unsigned char *fields,
			       const unsigned char *data, size_t len)
{
	uint64_t h = tlscache_fnv_bytes(TLSCACHE_FNV_START, fields,
					8 + TLSCACHE_KEY_LEN + 4);

	return tlscache_fnv_bytes(h, data, len);
}

/* Copy at most TLSCACHE_NAME_PART_MAX bytes of `s`, each outside
 * [A-Za-z0-9._] as '_': no '/', no leading "..", nothing to quote. */
static void tlscache_sanitize(const char *s, char *out)
{
	size_t i;

	for (i = 0; s[i] && i < TLSCACHE_NAME_PART_MAX; i++) {
		unsigned char c = (unsigned char)s[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
			|| (c >= '0' && c <= '9') || c == '.' || c == '_';

		out[i] = ok && !(i == 0 && c == '.') ? (char)c : '_';
	}
	out[i] = '\0';
}

char *tlscache_path(const char *dir, const char *account, const char *host,
		    int port)
{
	char acct[TLSCACHE_NAME_PART_MAX + 1], hst[TLSCACHE_NAME_PART_MAX + 1];
	char portstr[16];
	uint64_t h = TLSCACHE_FNV_START;
	size_t n;
	char *s;

	if (account == NULL)
		account = "default";
	if (host == NULL)
		host = "";
	snprintf(portstr, sizeof portstr, "%d", port);
	h = tlscache_fnv(tlscache_fnv(tlscache_fnv(h, account), host), portstr);
	tlscache_sanitize(account, acct);
	tlscache_sanitize(host, hst);
	n = strlen(dir) + strlen(acct) + strlen(hst) + strlen(portstr) + 40;
	s = malloc(n);
	if (s != NULL)
		snprintf(s, n, "%s/tls-%s-%s-%s-%016llx", dir, acct, hst,
			 portstr, (unsigned long long)h);
	return s;
}

static uint64_t tlscache_get_be(const unsigned char *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void tlscache_put_be(unsigned char *p, uint64_t v, size_t n)
{
	size_t i;

	for (i = n; i > 0; i--) {
		p[i - 1] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

enum tlscache_status tlscache_parse(const unsigned char *p, size_t n,
				    const unsigned char *key, time_t now,
				    const unsigned char **data, size_t *len,
				    time_t *expiry_out)
{
	const unsigned char *q = p + TLSCACHE_MAGIC_LEN;
	uint64_t expiry, dlen;

	if (n < TLSCACHE_HEADER_LEN
	    || memcmp(p, TLSCACHE_MAGIC, TLSCACHE_MAGIC_LEN) != 0)
		return TLSCACHE_MALFORMED;
	expiry = tlscache_get_be(q, 8);
	dlen = tlscache_get_be(q + 8 + TLSCACHE_KEY_LEN, 4);
	if (dlen == 0 || dlen > TLSCACHE_DATA_MAX
	    || dlen != n - TLSCACHE_HEADER_LEN)
		return TLSCACHE_MALFORMED;
	if (tlscache_get_be(q + 8 + TLSCACHE_KEY_LEN + 4, 8)
	    != tlscache_check(q, p + TLSCACHE_HEADER_LEN, (size_t)dlen))
		return TLSCACHE_MALFORMED;      /* damaged: never to GnuTLS */
	if (now < 0 || expiry > (uint64_t)now + TLSCACHE_MAX_AGE)
		return TLSCACHE_MALFORMED;
	if (memcmp(q + 8, key, TLSCACHE_KEY_LEN) != 0)
		return TLSCACHE_OTHER_KEY;
	if (expiry <= (uint64_t)now)
		return TLSCACHE_EXPIRED;
	*data = p + TLSCACHE_HEADER_LEN;
	*len = (size_t)dlen;
	if (expiry_out != NULL)
		*expiry_out = (time_t)expiry;
	return TLSCACHE_OK;
}

/* The directory part of a path (malloc'd; "" for none), NULL on ENOMEM. */
static char *tlscache_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;
	char *s = malloc(n + 1);

	if (s != NULL) {
		memcpy(s, path, n);
		s[n] = '\0';
	}
	return s;
}

/* A directory we may trust: ours, and (strict: the cache's own)
 * writable by nobody else. */
static int tlscache_dir_trusted(const struct stat *st, int strict)
{
	return S_ISDIR(st->st_mode) && st->st_uid == geteuid()
		&& (!strict || (st->st_mode & 022) == 0);
}

/* A file we may trust: a regular file of ours that nobody else may read
 * or write. */
static int tlscache_file_private(const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_uid == geteuid()
		&& (st->st_mode & 077) == 0;
}

static int tlscache_check_dir(const char *dir, int strict)
{
	struct stat st;

	if (lstat(dir, &st) < 0)
		return -1;
	if (!tlscache_dir_trusted(&st, strict)) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

/* Make `dir` (0700) when missing, up to `depth` levels, each only inside
 * a directory owned by the effective user. */
static int tlscache_make_dir(const char *dir, int depth, int strict)
{
	char *parent;
	int r;

	if (tlscache_check_dir(dir, strict) == 0)
		return 0;
	if (errno != ENOENT || depth == 0 || dir[0] == '\0')
		return -1;
	parent = tlscache_parent(dir);
	if (parent == NULL)
		return -1;
	r = parent[0] == '\0' ? -1
		: tlscache_make_dir(parent, depth - 1, 0);
	free(parent);
	if (r < 0)
		return -1;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	return tlscache_check_dir(dir, strict);
}

static int tlscache_read_all(int fd, unsigned char *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* Open `path` for reading when it is safe to believe: its directory and
 * the file itself as the header says.  -1 with *st set on refusal. */
static int tlscache_open(const char *path, size_t *size,
			 enum tlscache_status *status)
{
	char *dir = tlscache_parent(path);
	struct stat st;
	int fd, r;

	if (dir == NULL) {
		*status = TLSCACHE_ERROR;
		return -1;
	}
	r = tlscache_check_dir(dir[0] ? dir : ".", 1);
	free(dir);
	if (r < 0) {
		*status = errno == ENOENT ? TLSCACHE_MISSING : TLSCACHE_UNSAFE;
		return -1;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY
		  | O_CLOEXEC);
	if (fd < 0) {
		*status = errno == ENOENT ? TLSCACHE_MISSING
			: errno == ELOOP ? TLSCACHE_UNSAFE : TLSCACHE_ERROR;
		return -1;
	}
	/* shared: a run rewriting the file in place holds it exclusively
	 * (tlscache_rewrite), so size and bytes are read whole; never waited
	 * for (a process stopped while holding it must not stop this run) */
	if (flock(fd, LOCK_SH | LOCK_NB) < 0) {
		*status = errno == EWOULDBLOCK ? TLSCACHE_BUSY : TLSCACHE_ERROR;
		close(fd);
		return -1;
	}
	if (fstat(fd, &st) < 0 || !tlscache_file_private(&st)) {
		*status = TLSCACHE_UNSAFE;
	} else if (st.st_size < (off_t)TLSCACHE_HEADER_LEN
		   || st.st_size > (off_t)(TLSCACHE_HEADER_LEN
					   + TLSCACHE_DATA_MAX)) {
		*status = TLSCACHE_SIZE;
	} else {
		*size = (size_t)st.st_size;
		return fd;
	}
	close(fd);
	return -1;
}

enum tlscache_status tlscache_load(const char *path, const unsigned char *key,
				   time_t now, unsigned char **data,
				   size_t *len, time_t *expiry)
{
	enum tlscache_status status = TLSCACHE_ERROR;
	const unsigned char *d;
	unsigned char *p;
	size_t n = 0;
	int fd = tlscache_open(path, &n, &status);

	*data = NULL;
	*len = 0;
	if (fd < 0)
		return status;
	p = malloc(n);
	if (p == NULL || tlscache_read_all(fd, p, n) < 0) {
		close(fd);
		free(p);
		return TLSCACHE_ERROR;
	}
	close(fd);
	status = tlscache_parse(p, n, key, now, &d, len, expiry);
	if (status == TLSCACHE_OK) {
		memmove(p, d, *len);    /* the data, at the block's start */
		*data = p;
	} else {
		free(p);
		*len = 0;
	}
	return status;
}

static int tlscache_write_all(int fd, const unsigned char *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = write(fd, p + done, n - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			return -1;
		}
		done += (size_t)r;
	}
	return 0;
}

/* The file's bytes (malloc'd), NULL on ENOMEM. */
static unsigned char *tlscache_build(const unsigned char *key, time_t expiry,
				     const unsigned char *data, size_t len)
{
	unsigned char *p = malloc(TLSCACHE_HEADER_LEN + len);
	unsigned char *q;

	if (p == NULL)
		return NULL;
	memcpy(p, TLSCACHE_MAGIC, TLSCACHE_MAGIC_LEN);
	q = p + TLSCACHE_MAGIC_LEN;
	tlscache_put_be(q, (uint64_t)expiry, 8);
	memcpy(q + 8, key, TLSCACHE_KEY_LEN);
	tlscache_put_be(q + 8 + TLSCACHE_KEY_LEN, len, 4);
	memcpy(p + TLSCACHE_HEADER_LEN, data, len);
	tlscache_put_be(q + 8 + TLSCACHE_KEY_LEN + 4,
			tlscache_check(q, data, len), 8);
	return p;
}

/* Write `p` to a new temporary file next to `path` and rename it over
 * `path`; the temporary file is gone whatever happens. */
static int tlscache_replace(const char *path, const unsigned char *p,
			    size_t n)
{
	char *tmp = tlscache_join(path, ".XXXXXX");
	int fd, saved;

	if (tmp == NULL)
		return -1;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		free(tmp);
		return -1;
	}
	if (fchmod(fd, 0600) < 0 || tlscache_write_all(fd, p, n) < 0) {
		saved = errno;
		close(fd);
		fd = -1;
		errno = saved;
	}
	if ((fd >= 0 && close(fd) < 0) || fd < 0 || rename(tmp, path) < 0) {
		saved = errno;
		unlink(tmp);
		free(tmp);
		errno = saved;
		return -1;
	}
	free(tmp);
	return 0;
}

/* Overwrite the existing file `path` in place under an exclusive lock
 * (readers lock it shared): 0, or -1 when there is no file, it is not
 * one to trust, or another run holds its lock (never waited for): the
 * caller then writes a new one.  Not a new file and a
 * rename: a rename that replaces a file makes ext4 (auto_da_alloc, on by
 * default) write the new blocks out at once, 0.6 to 2 ms of every run
 * that keeps a fresh ticket, for a cache that needs no durability. */
static int tlscache_rewrite(const char *path, const unsigned char *p,
			    size_t n)
{
	struct stat st;
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY
		      | O_CLOEXEC);
	int r = -1;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == 0 && tlscache_file_private(&st)) {
		r = flock(fd, LOCK_EX | LOCK_NB);
		if (r == 0)
			r = tlscache_write_all(fd, p, n) == 0
				&& ftruncate(fd, (off_t)n) == 0 ? 0 : -1;
	}
	if (close(fd) < 0)
		r = -1;
	return r;
}

int tlscache_save(const char *path, const unsigned char *key, time_t expiry,
		  const unsigned char *data, size_t len)
{
	unsigned char *p;
	char *dir;
	int r;

	if (len == 0 || len > TLSCACHE_DATA_MAX) {
		errno = EINVAL;
		return -1;
	}
	dir = tlscache_parent(path);
	if (dir == NULL)
		return -1;
	r = tlscache_make_dir(dir[0] ? dir : ".", TLSCACHE_MKDIR_DEPTH, 1);
	free(dir);
	if (r < 0)
		return -1;
	p = tlscache_build(key, expiry, data, len);
	if (p == NULL)
		return -1;
	r = tlscache_rewrite(path, p, TLSCACHE_HEADER_LEN + len);
	if (r < 0)
		r = tlscache_replace(path, p, TLSCACHE_HEADER_LEN + len);
	free(p);
	return r;
}

/* The directory part of `path` opened (not through a link) when it is one
 * to trust; -1 with errno set. */
static int tlscache_open_dir(const char *dir)
{
	struct stat st;
	int dfd = open(dir[0] ? dir : ".", O_RDONLY | O_DIRECTORY
		       | O_NOFOLLOW | O_CLOEXEC);

	if (dfd < 0)
		return -1;
	if (fstat(dfd, &st) < 0 || !tlscache_dir_trusted(&st, 1)) {
		close(dfd);
		errno = EPERM;
		return -1;
	}
	return dfd;
}

int tlscache_remove(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = tlscache_parent(path);
	int dfd, r, saved;

	if (dir == NULL)
		return -1;
	dfd = tlscache_open_dir(dir);
	free(dir);
	if (dfd < 0)
		return -1;
	r = unlinkat(dfd, slash ? slash + 1 : path, 0);
	saved = errno;
	close(dfd);
	errno = saved;
	return r;
}

/* The start of every cache file this program ever wrote, whatever the
 * format version after it. */
#define TLSCACHE_FAMILY "MSMTP-TLS-SESSION "
#define TLSCACHE_FAMILY_LEN (sizeof TLSCACHE_FAMILY - 1)

/* 1 when the bytes are a cache file of ours that can never be used
 * again: another format version, damaged, or expired (for whatever key). */
static int tlscache_stale(const unsigned char *p, size_t n, time_t now)
{
	const unsigned char *data;
	size_t len;

	if (n < TLSCACHE_FAMILY_LEN
	    || memcmp(p, TLSCACHE_FAMILY, TLSCACHE_FAMILY_LEN) != 0)
		return 0;
	if (n < TLSCACHE_HEADER_LEN
	    || memcmp(p, TLSCACHE_MAGIC, TLSCACHE_MAGIC_LEN) != 0)
		return 1;
	return tlscache_parse(p, n, p + TLSCACHE_MAGIC_LEN + 8, now, &data,
			      &len, NULL) != TLSCACHE_OK;
}

/* One directory entry: removed when it is a stale file of ours, checked
 * and unlinked while this process holds its exclusive lock (a run that
 * rewrites a file in place holds that lock, one that reads it a shared
 * one).  1 removed, 0 not. */
static int tlscache_prune_one(int dfd, const char *name, time_t now)
{
	unsigned char *p = NULL;
	struct stat st;
	size_t n;
	int fd, removed = 0;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY
		    | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || !tlscache_file_private(&st)
	    || flock(fd, LOCK_EX | LOCK_NB) < 0)
		goto done;
	n = st.st_size > (off_t)(TLSCACHE_HEADER_LEN + TLSCACHE_DATA_MAX)
		? TLSCACHE_HEADER_LEN + TLSCACHE_DATA_MAX + 1
		: (size_t)st.st_size;
	p = malloc(n ? n : 1);
	if (p == NULL || tlscache_read_all(fd, p, n) < 0)
		goto done;
	if (tlscache_stale(p, n, now) && unlinkat(dfd, name, 0) == 0)
		removed = 1;
done:
	free(p);
	close(fd);
	return removed;
}

int tlscache_prune(const char *dir, time_t now)
{
	struct dirent *de;
	DIR *d;
	int dfd, seen = 0, removed = 0;

	dfd = tlscache_open_dir(dir);
	if (dfd < 0)
		return -1;
	d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return -1;
	}
	while (seen < TLSCACHE_PRUNE_MAX && (de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "tls-", 4) != 0)
			continue;
		seen++;
		removed += tlscache_prune_one(dfd, de->d_name, now);
	}
	closedir(d);
	return removed;
}

const char *tlscache_status_str(enum tlscache_status st)
{
	switch (st) {
	case TLSCACHE_OK: return "usable";
	case TLSCACHE_MISSING: return "none saved";
	case TLSCACHE_UNSAFE: return "not a private regular file of ours";
	case TLSCACHE_SIZE: return "wrong size";
	case TLSCACHE_MALFORMED: return "malformed";
	case TLSCACHE_OTHER_KEY: return "saved for other TLS settings";
	case TLSCACHE_EXPIRED: return "expired";
	case TLSCACHE_BUSY: return "in use by another run";
	case TLSCACHE_ERROR: break;
	}
	return "cannot be read";
}
