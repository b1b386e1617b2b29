/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The TLS session cache file: where it lives, the round trip (bytes,
 * modes, directories made, no leftovers), and every refusal when reading
 * (missing, link, not a regular file, loose modes, another owner, unsafe
 * directory, sizes, malformed, other key, expired), and that a save
 * replaces a bad file and never creates a directory in someone else's. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "tlscache.h"

#define T_NOW ((time_t)1800000000)

static const unsigned char key1[TLSCACHE_KEY_LEN] = { 1, 2, 3, 4 };
static const unsigned char key2[TLSCACHE_KEY_LEN] = { 9, 9, 9, 9 };
static const unsigned char sess[] = "opaque session data \x00\x01\xff";

struct tenv {
	char top[256];          /* mkdtemp */
	char cache[300];        /* top/cache = XDG_CACHE_HOME (not created) */
	char dir[400];          /* cache/msmtp */
	char *file;             /* the account's file in dir */
};

static int t_rm_one(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int t_setup(void **state)
{
	struct tenv *t = calloc(1, sizeof *t);

	assert_non_null(t);
	snprintf(t->top, sizeof t->top, "%s/tlscache.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(t->top));
	snprintf(t->cache, sizeof t->cache, "%s/cache", t->top);
	snprintf(t->dir, sizeof t->dir, "%s/msmtp", t->cache);
	t->file = tlscache_path(t->dir, "work", "mail.example.org", 465);
	assert_non_null(t->file);
	*state = t;
	return 0;
}

static int t_teardown(void **state)
{
	struct tenv *t = *state;

	chmod(t->top, 0700);
	nftw(t->top, t_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(t->file);
	free(t);
	return 0;
}

/* Save "new" under key2 over what is there and read it back. */
static void t_save_new(struct tenv *t)
{
	unsigned char *data = NULL;
	size_t len = 0;

	assert_int_equal(tlscache_save(t->file, key2, T_NOW + 60,
				       (const unsigned char *)"new", 3), 0);
	assert_int_equal(tlscache_load(t->file, key2, T_NOW, &data, &len,
				       NULL), TLSCACHE_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(data, "new", 3);
	free(data);
}

static void t_save_ok(struct tenv *t)
{
	assert_int_equal(tlscache_save(t->file, key1, T_NOW + 3600, sess,
				       sizeof sess), 0);
}

static enum tlscache_status t_load(struct tenv *t, const unsigned char *key,
				   time_t now)
{
	unsigned char *data = NULL;
	size_t len = 99;
	enum tlscache_status st = tlscache_load(t->file, key, now, &data,
						&len, NULL);

	if (st != TLSCACHE_OK) {
		assert_null(data);
		assert_int_equal(len, 0);
	}
	free(data);
	return st;
}

/* The file's bytes as written, into buf (at most n); the length. */
static size_t t_read(struct tenv *t, unsigned char *buf, size_t n)
{
	int fd = open(t->file, O_RDONLY);
	ssize_t r;

	assert_true(fd >= 0);
	r = read(fd, buf, n);
	assert_true(r >= 0);
	close(fd);
	return (size_t)r;
}

static void t_write(struct tenv *t, const unsigned char *buf, size_t n,
		    mode_t mode)
{
	int fd;

	unlink(t->file);
	fd = open(t->file, O_WRONLY | O_CREAT | O_EXCL, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
	fchmod(fd, mode);
	close(fd);
}

static size_t t_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void test_dir(void **state)
{
	char *d;

	(void)state;
	setenv("XDG_CACHE_HOME", "/x/cache", 1);
	setenv("HOME", "/home/u", 1);
	d = tlscache_dir();
	assert_string_equal(d, "/x/cache/msmtp");
	free(d);
	setenv("XDG_CACHE_HOME", "relative/cache", 1);
	d = tlscache_dir();
	assert_string_equal(d, "/home/u/.cache/msmtp");
	free(d);
	unsetenv("XDG_CACHE_HOME");
	d = tlscache_dir();
	assert_string_equal(d, "/home/u/.cache/msmtp");
	free(d);
	setenv("HOME", "", 1);
	assert_null(tlscache_dir());
}

static void test_path(void **state)
{
	char *a = tlscache_path("/c", "a/b", "h", 25);
	char *b = tlscache_path("/c", "a_b", "h", 25);
	char *c = tlscache_path("/c", NULL, "mail.example.org", 587);
	char *d = tlscache_path("/c", "default", "mail.example.org", 587);
	char *e = tlscache_path("/c", "x", "../../etc", 1);

	(void)state;
	assert_true(a && b && c && d && e);
	assert_memory_equal(a, "/c/tls-a_b-h-25-", 16);
	assert_memory_equal(b, "/c/tls-a_b-h-25-", 16);
	assert_string_not_equal(a, b);          /* the hash tells them apart */
	assert_string_equal(c, d);              /* NULL is "default" */
	assert_memory_equal(c, "/c/tls-default-mail.example.org-587-", 36);
	assert_null(strchr(e + 3, '/'));        /* no way out of the dir */
	free(a);
	free(b);
	free(c);
	free(d);
	free(e);
}

static void test_round_trip(void **state)
{
	struct tenv *t = *state;
	unsigned char *data = NULL;
	size_t len = 0;
	struct stat st;

	t_save_ok(t);
	time_t expiry = 0;

	assert_int_equal(tlscache_load(t->file, key1, T_NOW, &data, &len,
				       &expiry), TLSCACHE_OK);
	assert_int_equal(expiry, T_NOW + 3600);   /* what the save gave */
	assert_int_equal(len, sizeof sess);
	assert_memory_equal(data, sess, sizeof sess);
	free(data);
	assert_int_equal(stat(t->file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, TLSCACHE_HEADER_LEN + sizeof sess);
	assert_int_equal(stat(t->dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(t->cache, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(t_entries(t->dir), 1); /* no temporary file left */
	/* a second save replaces the first */
	t_save_new(t);
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_OTHER_KEY);
	assert_int_equal(t_entries(t->dir), 1);
}

static void test_layout(void **state)
{
	struct tenv *t = *state;
	unsigned char buf[512];
	size_t n;

	t_save_ok(t);
	n = t_read(t, buf, sizeof buf);
	assert_int_equal(n, TLSCACHE_HEADER_LEN + sizeof sess);
	assert_memory_equal(buf, "MSMTP-TLS-SESSION 3\n", 20);
	/* expiry big-endian */
	assert_int_equal(((uint64_t)buf[20] << 56 | (uint64_t)buf[21] << 48
			  | (uint64_t)buf[22] << 40 | (uint64_t)buf[23] << 32
			  | (uint64_t)buf[24] << 24 | (uint64_t)buf[25] << 16
			  | (uint64_t)buf[26] << 8 | buf[27]), T_NOW + 3600);
	assert_memory_equal(buf + 28, key1, TLSCACHE_KEY_LEN);
	assert_int_equal(buf[60] << 24 | buf[61] << 16 | buf[62] << 8 | buf[63],
			 sizeof sess);
	/* 64..71: the check; then the data */
	assert_memory_equal(buf + 72, sess, sizeof sess);
}

/* A file damaged anywhere after the magic (one bit of the data, of the
 * key, of the check) is malformed: GnuTLS 3.7 crashed in the handshake on
 * some damaged session data, so it never gets any. */
static void test_damage_detected(void **state)
{
	struct tenv *t = *state;
	unsigned char buf[512], bad[512];
	size_t n, i;
	const size_t at[] = { 20, 30, 62, 66, 72, 72 + sizeof sess - 1 };

	t_save_ok(t);
	n = t_read(t, buf, sizeof buf);
	for (i = 0; i < sizeof at / sizeof at[0]; i++) {
		memcpy(bad, buf, n);
		bad[at[i]] ^= 0x01;
		t_write(t, bad, n, 0600);
		assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_MALFORMED);
	}
	t_write(t, buf, n, 0600);
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_OK);
}

static void test_missing(void **state)
{
	struct tenv *t = *state;

	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_MISSING);
	assert_int_equal(mkdir(t->cache, 0700), 0);
	assert_int_equal(mkdir(t->dir, 0700), 0);
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_MISSING);
}

static void test_expired_and_key(void **state)
{
	struct tenv *t = *state;

	t_save_ok(t);
	assert_int_equal(t_load(t, key1, T_NOW + 3599), TLSCACHE_OK);
	assert_int_equal(t_load(t, key1, T_NOW + 3600), TLSCACHE_EXPIRED);
	assert_int_equal(t_load(t, key2, T_NOW), TLSCACHE_OTHER_KEY);
	/* an expiry further ahead than the longest lifetime: not ours */
	assert_int_equal(tlscache_save(t->file, key1,
				       T_NOW + TLSCACHE_MAX_AGE + 1, sess,
				       sizeof sess), 0);
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_MALFORMED);
	assert_int_equal(t_load(t, key1, T_NOW + 1), TLSCACHE_OK);
}

static void test_link_refused(void **state)
{
	struct tenv *t = *state;
	char target[600];

	t_save_ok(t);
	snprintf(target, sizeof target, "%s/real", t->dir);
	assert_int_equal(rename(t->file, target), 0);
	assert_int_equal(symlink(target, t->file), 0);
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_UNSAFE);
	/* a save replaces the link itself, never writes through it */
	assert_int_equal(tlscache_save(t->file, key2, T_NOW + 10,
				       (const unsigned char *)"x", 1), 0);
	assert_int_equal(t_load(t, key2, T_NOW), TLSCACHE_OK);
	{
		struct stat st;

		assert_int_equal(lstat(t->file, &st), 0);
		assert_true(S_ISREG(st.st_mode));
		assert_int_equal(stat(target, &st), 0);
		assert_int_equal(st.st_size, TLSCACHE_HEADER_LEN + sizeof sess);
	}
}

/* A later save rewrites a sound file in place (same inode, ext4 forces no
 * write-out), shorter data leaves no tail; a file with group or other
 * bits is replaced by a new 0600 one instead. */
static void test_rewrite_in_place(void **state)
{
	struct tenv *t = *state;
	struct stat st1, st2;

	t_save_ok(t);
	assert_int_equal(stat(t->file, &st1), 0);
	t_save_new(t);
	assert_int_equal(stat(t->file, &st2), 0);
	assert_true(st1.st_ino == st2.st_ino);
	assert_int_equal(st2.st_size, TLSCACHE_HEADER_LEN + 3);
	assert_int_equal(t_entries(t->dir), 1);
	/* group-readable: not written through, replaced */
	assert_int_equal(chmod(t->file, 0640), 0);
	t_save_ok(t);
	assert_int_equal(stat(t->file, &st2), 0);
	assert_true(st1.st_ino != st2.st_ino);
	assert_int_equal(st2.st_mode & 07777, 0600);
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_OK);
	assert_int_equal(t_entries(t->dir), 1);
}

/* A lock another run holds is never waited for: the reader gets
 * TLSCACHE_BUSY at once, the writer writes a new file beside it. */
static void test_lock_never_waited(void **state)
{
	struct tenv *t = *state;
	struct stat st1, st2;
	int fd;

	t_save_ok(t);
	assert_int_equal(stat(t->file, &st1), 0);
	fd = open(t->file, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_BUSY);
	assert_string_equal(tlscache_status_str(TLSCACHE_BUSY),
			    "in use by another run");
	assert_int_equal(tlscache_save(t->file, key2, T_NOW + 60,
				       (const unsigned char *)"new", 3), 0);
	assert_int_equal(stat(t->file, &st2), 0);
	assert_true(st1.st_ino != st2.st_ino);
	assert_int_equal(t_load(t, key2, T_NOW), TLSCACHE_OK);
	close(fd);
	assert_int_equal(t_entries(t->dir), 1);
}

static void test_not_regular(void **state)
{
	struct tenv *t = *state;

	t_save_ok(t);
	unlink(t->file);
	assert_int_equal(mkfifo(t->file, 0600), 0);
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_UNSAFE);
	unlink(t->file);
	assert_int_equal(mkdir(t->file, 0700), 0);
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_UNSAFE);
}

static void test_modes_refused(void **state)
{
	struct tenv *t = *state;

	t_save_ok(t);
	assert_int_equal(chmod(t->file, 0640), 0);
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_UNSAFE);
	assert_int_equal(chmod(t->file, 0604), 0);
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_UNSAFE);
	assert_int_equal(chmod(t->file, 0600), 0);
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_OK);
	/* a directory others may write into: anyone could swap the file */
	assert_int_equal(chmod(t->dir, 0770), 0);
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_UNSAFE);
	assert_int_equal(tlscache_save(t->file, key1, T_NOW + 10, sess,
				       sizeof sess), -1);
	assert_int_equal(chmod(t->dir, 0755), 0);   /* readable is fine */
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_OK);
}

static void test_owner_refused(void **state)
{
	struct tenv *t = *state;

	if (geteuid() != 0) {
		skip();
		return;
	}
	t_save_ok(t);
	assert_int_equal(chown(t->file, 65534, 65534), 0);
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_UNSAFE);
	assert_int_equal(chown(t->file, 0, 0), 0);
	assert_int_equal(chown(t->dir, 65534, 65534), 0);
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_UNSAFE);
}

/* Root with another user's HOME: no directory is made in their home. */
static void test_no_mkdir_in_others(void **state)
{
	struct tenv *t = *state;
	struct stat st;

	if (geteuid() != 0) {
		skip();
		return;
	}
	assert_int_equal(chown(t->top, 65534, 65534), 0);
	assert_int_equal(tlscache_save(t->file, key1, T_NOW + 10, sess,
				       sizeof sess), -1);
	assert_int_equal(stat(t->cache, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(chown(t->top, 0, 0), 0);
	t_save_ok(t);
}

static void test_sizes(void **state)
{
	struct tenv *t = *state;
	static unsigned char big[TLSCACHE_HEADER_LEN + TLSCACHE_DATA_MAX + 1];
	unsigned char buf[512];
	size_t n;

	t_save_ok(t);
	n = t_read(t, buf, sizeof buf);
	t_write(t, buf, TLSCACHE_HEADER_LEN - 1, 0600);
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_SIZE);
	t_write(t, buf, 0, 0600);
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_SIZE);
	memcpy(big, buf, n);
	t_write(t, big, sizeof big, 0600);
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_SIZE);
	/* the save refuses what the reader would */
	assert_int_equal(tlscache_save(t->file, key1, T_NOW + 10, big,
				       TLSCACHE_DATA_MAX + 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(tlscache_save(t->file, key1, T_NOW + 10, big, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(tlscache_save(t->file, key1, T_NOW + 10, big,
				       TLSCACHE_DATA_MAX), 0);
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_OK);
}

static void test_malformed(void **state)
{
	struct tenv *t = *state;
	unsigned char buf[512], bad[512];
	size_t n;

	t_save_ok(t);
	n = t_read(t, buf, sizeof buf);
	memcpy(bad, buf, n);
	bad[0] = 'm';                                   /* magic */
	t_write(t, bad, n, 0600);
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_MALFORMED);
	memcpy(bad, buf, n);
	bad[63]++;                                      /* length too big */
	t_write(t, bad, n, 0600);
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_MALFORMED);
	t_write(t, buf, n - 1, 0600);                   /* cut short */
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_MALFORMED);
	memcpy(bad, buf, n);
	bad[n] = 0;                                     /* trailing byte */
	t_write(t, bad, n + 1, 0600);
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_MALFORMED);
	memcpy(bad, buf, n);
	memset(bad + 60, 0, 4);                         /* empty data */
	t_write(t, bad, TLSCACHE_HEADER_LEN, 0600);
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_MALFORMED);
	memset(bad + 20, 0xff, 8);                      /* absurd expiry */
	memcpy(bad + 60, buf + 60, 4);
	t_write(t, bad, n, 0600);
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_MALFORMED);
	t_write(t, buf, n, 0600);                       /* and back */
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_OK);
	/* a bad file is replaced by the next save */
	t_write(t, bad, n, 0600);
	t_save_ok(t);
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_OK);
}

static void test_parse_in_memory(void **state)
{
	struct tenv *t = *state;
	unsigned char buf[512];
	const unsigned char *d = NULL;
	size_t n, len = 0;

	t_save_ok(t);
	n = t_read(t, buf, sizeof buf);
	assert_int_equal(tlscache_parse(buf, n, key1, T_NOW, &d, &len, NULL),
			 TLSCACHE_OK);
	assert_ptr_equal(d, buf + TLSCACHE_HEADER_LEN);
	assert_int_equal(len, sizeof sess);
	assert_int_equal(tlscache_parse(buf, 0, key1, T_NOW, &d, &len, NULL),
			 TLSCACHE_MALFORMED);
	assert_int_equal(tlscache_parse(buf, n, key1, (time_t)-1, &d, &len, NULL),
			 TLSCACHE_MALFORMED);
	assert_string_equal(tlscache_status_str(TLSCACHE_EXPIRED), "expired");
}

/* A file in t->dir named `name` holding a cache file saved with
 * `expiry` (through tlscache_save, so its bytes are the real format). */
static void t_save_named(struct tenv *t, const char *name, time_t expiry)
{
	char path[600];

	snprintf(path, sizeof path, "%s/%s", t->dir, name);
	assert_int_equal(tlscache_save(path, key1, expiry, sess, sizeof sess),
			 0);
}

static void t_put_named(struct tenv *t, const char *name, const char *text,
			mode_t mode)
{
	char path[600];
	int fd;

	snprintf(path, sizeof path, "%s/%s", t->dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	fchmod(fd, mode);
	close(fd);
}

static int t_exists(struct tenv *t, const char *name)
{
	char path[600];
	struct stat st;

	snprintf(path, sizeof path, "%s/%s", t->dir, name);
	return lstat(path, &st) == 0;
}

/* Pruning removes expired, damaged and old-format files of ours, and
 * nothing else: fresh files, other names, other content, loose modes,
 * links (not followed: their target stays too) and locked files stay. */
static void test_prune(void **state)
{
	struct tenv *t = *state;
	char path[600], target[600];
	unsigned char buf[512];
	size_t n;
	int fd;

	t_save_ok(t);                           /* creates the directories */
	t_save_named(t, "tls-fresh", T_NOW + 60);
	t_save_named(t, "tls-expired", T_NOW - 1);
	t_save_named(t, "tls-expired-locked", T_NOW - 1);
	t_save_named(t, "tls-expired-0644", T_NOW - 1);
	chmod(strcat(strcpy(path, t->dir), "/tls-expired-0644"), 0644);
	t_save_named(t, "other-expired", T_NOW - 1);
	t_save_named(t, "tls-damaged", T_NOW + 60);
	snprintf(path, sizeof path, "%s/tls-damaged", t->dir);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	n = (size_t)read(fd, buf, sizeof buf);
	buf[n - 1] ^= 0x40;
	assert_int_equal(pwrite(fd, buf + n - 1, 1, (off_t)(n - 1)), 1);
	close(fd);
	t_put_named(t, "tls-old-format", "MSMTP-TLS-SESSION 2\nold bytes", 0600);
	t_put_named(t, "tls-not-ours", "something else entirely", 0600);
	/* a link to an expired file outside: neither is touched */
	snprintf(target, sizeof target, "%s/outside-expired", t->top);
	assert_int_equal(tlscache_save(target, key1, T_NOW - 1, sess,
				       sizeof sess), 0);
	snprintf(path, sizeof path, "%s/tls-link", t->dir);
	assert_int_equal(symlink(target, path), 0);
	/* another run reading the locked one holds a shared lock */
	snprintf(path, sizeof path, "%s/tls-expired-locked", t->dir);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_SH), 0);

	assert_int_equal(tlscache_prune(t->dir, T_NOW), 3);
	close(fd);
	assert_false(t_exists(t, "tls-expired"));
	assert_false(t_exists(t, "tls-damaged"));
	assert_false(t_exists(t, "tls-old-format"));
	assert_true(t_exists(t, "tls-fresh"));
	assert_true(t_exists(t, "tls-expired-locked"));
	assert_true(t_exists(t, "tls-expired-0644"));
	assert_true(t_exists(t, "other-expired"));
	assert_true(t_exists(t, "tls-not-ours"));
	assert_true(t_exists(t, "tls-link"));
	assert_int_equal(access(target, F_OK), 0);
	assert_int_equal(t_load(t, key1, T_NOW), TLSCACHE_OK);
	/* unlocked now: the next prune takes it */
	assert_int_equal(tlscache_prune(t->dir, T_NOW), 1);
	assert_false(t_exists(t, "tls-expired-locked"));
}

/* A directory that is missing, a link, or writable by others is not
 * pruned at all. */
static void test_prune_dir_refused(void **state)
{
	struct tenv *t = *state;
	char link[600];

	assert_int_equal(tlscache_prune(t->dir, T_NOW), -1);   /* missing */
	t_save_named(t, "tls-expired", T_NOW - 1);
	chmod(t->dir, 0777);
	assert_int_equal(tlscache_prune(t->dir, T_NOW), -1);
	assert_true(t_exists(t, "tls-expired"));
	chmod(t->dir, 0700);
	snprintf(link, sizeof link, "%s/link", t->top);
	assert_int_equal(symlink(t->dir, link), 0);
	assert_int_equal(tlscache_prune(link, T_NOW), -1);
	assert_true(t_exists(t, "tls-expired"));
	assert_int_equal(tlscache_prune(t->dir, T_NOW), 1);
}

/* A refused session's file goes only from a directory to trust: not from
 * one others may write, nor through a link to the directory. */
static void test_remove(void **state)
{
	struct tenv *t = *state;
	char link[600], via[700];
	const char *base = strrchr(t->file, '/') + 1;

	t_save_ok(t);
	chmod(t->dir, 0777);
	errno = 0;
	assert_int_equal(tlscache_remove(t->file), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(access(t->file, F_OK), 0);
	chmod(t->dir, 0700);
	snprintf(link, sizeof link, "%s/link", t->top);
	assert_int_equal(symlink(t->dir, link), 0);
	snprintf(via, sizeof via, "%s/%s", link, base);
	assert_int_equal(tlscache_remove(via), -1);
	assert_int_equal(access(t->file, F_OK), 0);
	assert_int_equal(tlscache_remove(t->file), 0);
	assert_int_equal(access(t->file, F_OK), -1);
	assert_int_equal(tlscache_remove(t->file), -1);        /* gone */
	assert_int_equal(errno, ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dir),
		cmocka_unit_test(test_path),
		cmocka_unit_test_setup_teardown(test_round_trip, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_prune, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_remove, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_prune_dir_refused, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_layout, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_damage_detected, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_missing, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_expired_and_key, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_link_refused, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_rewrite_in_place, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_lock_never_waited, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_not_regular, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_modes_refused, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_owner_refused, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_no_mkdir_in_others, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_sizes, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_malformed, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_parse_in_memory, t_setup, t_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
