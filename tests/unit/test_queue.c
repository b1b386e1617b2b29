/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The queue: what it writes, what it accepts back from disk (every field
 * of an envelope is untrusted input), what it refuses to follow, and that
 * failures leave no file descriptor or file behind. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "queue.h"

/* ---- fsync fault injection ----------------------------------------------
 * This definition takes the place of libc's fsync for the whole test
 * program (the queue code is linked in statically), so a test can make
 * the n-th call fail without LD_PRELOAD or a special file system. */
static int fsync_calls;
static int fsync_fail_at;       /* 0: never; n: the n-th call fails */

int fsync(int fd)
{
	if (fsync_fail_at > 0 && ++fsync_calls == fsync_fail_at) {
		errno = EIO;
		return -1;
	}
	return (int)syscall(SYS_fsync, fd);
}

/* ---- helpers -------------------------------------------------------------- */

struct tdir {
	char top[256];          /* mkdtemp */
	char qdir[300];         /* top/queue */
	struct queue *q;
};

static int test_rm_one(const char *path, const struct stat *st, int flag,
		       struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void test_tdir_open(struct tdir *t)
{
	struct err e;
	const char *tmp = getenv("TMPDIR");

	snprintf(t->top, sizeof t->top, "%s/test_queue.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(t->top));
	snprintf(t->qdir, sizeof t->qdir, "%s/queue", t->top);
	err_init(&e);
	assert_int_equal(queue_open(t->qdir, &t->q, &e), 0);
}

static void test_tdir_close(struct tdir *t)
{
	queue_close(t->q);
	t->q = NULL;
	nftw(t->top, test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The lowest free descriptor number: it grows when one leaks. */
static int test_lowest_free_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	close(fd);
	return fd;
}

static struct msg *test_msg(const char *text)
{
	const char *tmp = getenv("TMPDIR");
	char path[4096];
	struct msg_read_opts ro;
	struct msg *m = NULL;
	struct err e;
	int fd;

	snprintf(path, sizeof path, "%s/test_queue_msg.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	memset(&ro, 0, sizeof ro);
	err_init(&e);
	assert_int_equal(msg_read(fd, &ro, &m, &e), 0);
	close(fd);
	return m;
}

static size_t test_count_files(const char *dir)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d = opendir(dir);

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* A small valid entry (the caller frees it with queue_entry_clear). */
static void test_entry(struct queue_entry *ent)
{
	memset(ent, 0, sizeof *ent);
	queue_new_id(ent);
	ent->account = strdup("default");
	ent->from = strdup("alice@example.org");
	ent->rcpts = calloc(1, sizeof *ent->rcpts);
	assert_non_null(ent->account);
	assert_non_null(ent->from);
	assert_non_null(ent->rcpts);
	ent->rcpts[0].addr = strdup("bob@example.net");
	assert_non_null(ent->rcpts[0].addr);
	ent->nrcpts = 1;
	ent->queued = ent->next = 1800000000;
	ent->size = 20;
}

/* ---- fd leak when fsync fails ----------------------------------------------- */

/* queue_add when fsync of the message file fails: an I/O error, no
 * descriptor left open, nothing left in tmp/ or in the queue. */
static void test_fsync_failure_closes(void **state)
{
	struct queue_entry ent;
	struct tdir t;
	struct msg *m;
	struct err e;
	char tmpdir[400];
	int before;

	(void)state;
	test_tdir_open(&t);
	test_entry(&ent);
	m = test_msg("Subject: x\n\nbody\n");
	before = test_lowest_free_fd();
	fsync_calls = 0;
	fsync_fail_at = 1;      /* the message file's fsync */
	err_init(&e);
	assert_int_equal(queue_add(t.q, &ent, m, &e), -1);
	fsync_fail_at = 0;
	assert_int_equal(e.code, ERR_IOERR);
	assert_non_null(strstr(e.msg, "Input/output error"));
	assert_int_equal(test_lowest_free_fd(), before);
	snprintf(tmpdir, sizeof tmpdir, "%s/tmp", t.qdir);
	assert_int_equal(test_count_files(tmpdir), 0);
	assert_int_equal(test_count_files(t.qdir), 1);  /* tmp/ only */
	msg_free(m);
	queue_entry_clear(&ent);
	test_tdir_close(&t);
}

/* ---- envelopes read back from disk ------------------------------------ */

#define TID "20260101000000-1234-0123abcd"
#define L_MAGIC "msmtp-queue-envelope 1\n"
#define L_ID "id " TID "\n"
#define L_ACCOUNT "account default\n"
#define L_FROM "from alice@example.org\n"
#define L_TIMES "queued 1800000000\nnext 1800000000\n"
#define L_COUNTS "attempts 0\nsize 20\nmaybe-duplicate 0\n"
#define L_RCPT "rcpt pending bob@example.net\n"
#define L_END "END\n"
#define GOOD L_MAGIC L_ID L_ACCOUNT L_FROM L_TIMES L_COUNTS L_RCPT L_END
/* GOOD with the line `line` (which must follow L_ID) in place of the
 * account line, for rows that only vary one field */
#define WITH(line) L_MAGIC L_ID line L_FROM L_TIMES L_COUNTS L_RCPT L_END
#define BASE L_MAGIC L_ID L_ACCOUNT L_FROM
#define TAIL L_RCPT L_END

struct bad_env {
	const char *name;
	const char *text;       /* NULL: built by the test (long lines) */
	const char *reason;     /* must appear in the recorded reason */
};

static const struct bad_env bad_envs[] = {
	{ "empty file", "", "not a queue envelope" },
	{ "not ours", "hello\n" L_ID L_END, "not a queue envelope" },
	{ "other version", "msmtp-queue-envelope 2\n" L_ID L_ACCOUNT L_FROM
	  L_TIMES L_COUNTS L_RCPT L_END, "unsupported envelope version" },
	{ "id of another entry", L_MAGIC "id 20260101000000-1234-0123abce\n"
	  L_ACCOUNT L_FROM L_TIMES L_COUNTS L_RCPT L_END,
	  "does not match the file name" },
	{ "id ../x", L_MAGIC "id ../x\n" L_ACCOUNT L_FROM L_TIMES L_COUNTS
	  L_RCPT L_END, "is not a queue id" },
	{ "id with a slash", L_MAGIC "id 20260101000000-1234-0123abc/\n"
	  L_ACCOUNT L_FROM L_TIMES L_COUNTS L_RCPT L_END, "is not a queue id" },
	{ "no id", L_MAGIC L_ACCOUNT L_FROM L_TIMES L_COUNTS L_RCPT L_END,
	  "missing \"id\"" },
	{ "duplicate key", BASE L_TIMES "queued 1800000000\n" L_COUNTS TAIL,
	  "duplicate \"queued\"" },
	{ "duplicate id", L_MAGIC L_ID L_ID L_ACCOUNT L_FROM L_TIMES L_COUNTS
	  TAIL, "duplicate \"id\"" },
	{ "unknown key", BASE "colour blue\n" L_TIMES L_COUNTS TAIL,
	  "unknown key \"colour\"" },
	{ "key without value", BASE "queued\nnext 1800000000\n" L_COUNTS TAIL,
	  "no value" },
	{ "missing END", BASE L_TIMES L_COUNTS L_RCPT, "missing END" },
	{ "END not terminated", BASE L_TIMES L_COUNTS L_RCPT "END",
	  "no newline" },
	{ "data after END", GOOD "rcpt pending eve@example.com\n",
	  "data after the END line" },
	{ "blank line after END", GOOD "\n", "data after the END line" },
	{ "missing size", BASE L_TIMES "attempts 0\nmaybe-duplicate 0\n" TAIL,
	  "missing \"size\"" },
	{ "missing account", L_MAGIC L_ID L_FROM L_TIMES L_COUNTS TAIL,
	  "missing \"account\"" },
	{ "no recipients", BASE L_TIMES L_COUNTS L_END, "no recipients" },
	{ "NUL in a recipient", BASE L_TIMES L_COUNTS
	  "rcpt pending bob%00@example.net\n" L_END, "NUL" },
	{ "NUL in the sender", L_MAGIC L_ID L_ACCOUNT
	  "from alice%00@example.org\n" L_TIMES L_COUNTS TAIL, "NUL" },
	{ "NUL in the account", WITH("account de%00fault\n"), "NUL" },
	{ "escaped LF in a recipient", BASE L_TIMES L_COUNTS
	  "rcpt pending bob@example.net%0D%0ADATA\n" L_END,
	  "control character" },
	{ "escaped control byte in the sender", L_MAGIC L_ID L_ACCOUNT
	  "from al%01ice@example.org\n" L_TIMES L_COUNTS TAIL,
	  "control character" },
	{ "raw CR in a line", WITH("account default\r\n"),
	  "unescaped space or control byte" },
	{ "raw TAB in a line", WITH("account de\tfault\n"),
	  "unescaped space or control byte" },
	{ "raw space in a value", WITH("account de fault\n"),
	  "unescaped space or control byte" },
	{ "bad escape", WITH("account de%zzfault\n"), "bad %-escape" },
	{ "cut escape", WITH("account default%4\n"), "bad %-escape" },
	{ "empty account", WITH("account \n"), "account is empty" },
	{ "control byte in the account", WITH("account de%7Ffault\n"),
	  "control character" },
	{ "space outside quotes in the sender", L_MAGIC L_ID L_ACCOUNT
	  "from al%20ice@example.org\n" L_TIMES L_COUNTS TAIL,
	  "space outside quotes" },
	{ "angle bracket in a recipient", BASE L_TIMES L_COUNTS
	  "rcpt pending bob@example.net>\n" L_END, "'<' or '>'" },
	{ "empty recipient", BASE L_TIMES L_COUNTS "rcpt pending %00\n" L_END,
	  "NUL" },
	{ "empty recipient address", BASE L_TIMES L_COUNTS "rcpt pending \n"
	  L_END, "rcpt 1 is empty" },
	{ "recipient without address", BASE L_TIMES L_COUNTS "rcpt pending\n"
	  L_END, "no address" },
	{ "unknown recipient state", BASE L_TIMES L_COUNTS
	  "rcpt sent bob@example.net\n" L_END, "unknown state \"sent\"" },
	{ "recipient with extra fields", BASE L_TIMES L_COUNTS
	  "rcpt pending bob@example.net 250%20ok more\n" L_END, "extra field" },
	{ "control byte in a reply", BASE L_TIMES L_COUNTS
	  "rcpt pending bob@example.net 250%0Aok\n" L_END, "control character" },
	{ "huge queued", BASE "queued 99999999999999999999\nnext 1800000000\n"
	  L_COUNTS TAIL, "queued out of range" },
	{ "queued after year 9999", BASE
	  "queued 253402300800\nnext 1800000000\n" L_COUNTS TAIL,
	  "queued out of range" },
	{ "negative queued", BASE "queued -1\nnext 1800000000\n" L_COUNTS TAIL,
	  "queued is negative" },
	{ "huge negative queued", BASE
	  "queued -99999999999999999999\nnext 1800000000\n" L_COUNTS TAIL,
	  "queued is negative" },
	{ "negative next", BASE "queued 1800000000\nnext -5\n" L_COUNTS TAIL,
	  "next is negative" },
	{ "number with junk", BASE L_TIMES "attempts 1x\nsize 20\n"
	  "maybe-duplicate 0\n" TAIL, "attempts is not a number" },
	{ "number with a sign", BASE L_TIMES "attempts +1\nsize 20\n"
	  "maybe-duplicate 0\n" TAIL, "attempts is not a number" },
	{ "too many attempts", BASE L_TIMES "attempts 1000001\nsize 20\n"
	  "maybe-duplicate 0\n" TAIL, "attempts out of range" },
	{ "negative attempts", BASE L_TIMES "attempts -1\nsize 20\n"
	  "maybe-duplicate 0\n" TAIL, "attempts is negative" },
	{ "size over 2^53", BASE L_TIMES "attempts 0\nsize 9007199254740993\n"
	  "maybe-duplicate 0\n" TAIL, "size out of range" },
	{ "size over 2^64", BASE L_TIMES
	  "attempts 0\nsize 184467440737095516160\nmaybe-duplicate 0\n" TAIL,
	  "size out of range" },
	{ "maybe-duplicate 2", BASE L_TIMES "attempts 0\nsize 20\n"
	  "maybe-duplicate 2\n" TAIL, "maybe-duplicate out of range" },
	{ "bad dsn-notify", BASE "dsn-notify sometimes\n" L_TIMES L_COUNTS
	  TAIL, "dsn-notify" },
	{ "never with others", BASE "dsn-notify never,failure\n" L_TIMES
	  L_COUNTS TAIL, "dsn-notify" },
	{ "bad dsn-return", BASE "dsn-return body\n" L_TIMES L_COUNTS TAIL,
	  "dsn-return" },
	{ "control byte in last-error", BASE L_TIMES L_COUNTS
	  "last-error 451%07later\n" TAIL, "control character" },
	{ "NUL in last-error", BASE L_TIMES L_COUNTS "last-error 451%00x\n"
	  TAIL, "NUL" },
	{ "relative config", BASE "config msmtprc\n" L_TIMES L_COUNTS TAIL,
	  "not an absolute path" },
	{ "control byte in config", BASE "config /etc/ms%0Amtprc\n" L_TIMES
	  L_COUNTS TAIL, "control character" },
	/* every field once more, each malformed its own way */
	{ "magic with CRLF", "msmtp-queue-envelope 1\r\n" L_ID L_ACCOUNT L_FROM
	  L_TIMES L_COUNTS L_RCPT L_END, "unsupported envelope version" },
	{ "magic after a BOM", "\xef\xbb\xbf" GOOD, "not a queue envelope" },
	{ "upper-case key", L_MAGIC "ID " TID "\n" L_ACCOUNT L_FROM L_TIMES
	  L_COUNTS TAIL, "unknown key \"ID\"" },
	{ "escaped key", BASE "qu%65ued 1800000000\nnext 1800000000\n"
	  L_COUNTS TAIL, "unknown key \"qu%65ued\"" },
	{ "empty line", BASE "\n" L_TIMES L_COUNTS TAIL, "unknown key \"\"" },
	{ "END with a space", BASE L_TIMES L_COUNTS L_RCPT "END \n",
	  "unknown key \"END\"" },
	{ "raw NUL in a line", NULL, "unescaped space or control byte" },
	{ "id with a space", L_MAGIC "id " TID "%20\n" L_ACCOUNT L_FROM
	  L_TIMES L_COUNTS TAIL, "is not a queue id" },
	{ "empty id", L_MAGIC "id \n" L_ACCOUNT L_FROM L_TIMES L_COUNTS TAIL,
	  "is not a queue id" },
	{ "duplicate account", L_MAGIC L_ID L_ACCOUNT L_ACCOUNT L_FROM L_TIMES
	  L_COUNTS TAIL, "duplicate \"account\"" },
	{ "missing from", L_MAGIC L_ID L_ACCOUNT L_TIMES L_COUNTS TAIL,
	  "missing \"from\"" },
	{ "duplicate from", BASE L_FROM L_TIMES L_COUNTS TAIL,
	  "duplicate \"from\"" },
	{ "angle brackets around the sender", L_MAGIC L_ID L_ACCOUNT
	  "from <alice@example.org>\n" L_TIMES L_COUNTS TAIL, "'<' or '>'" },
	{ "invalid UTF-8 in the sender", L_MAGIC L_ID L_ACCOUNT
	  "from al%FFice@example.org\n" L_TIMES L_COUNTS TAIL, "invalid UTF-8" },
	{ "unterminated quote in the sender", L_MAGIC L_ID L_ACCOUNT
	  "from \"alice@example.org\n" L_TIMES L_COUNTS TAIL,
	  "unterminated quoted string" },
	{ "sender with an escaped LF and a command", L_MAGIC L_ID L_ACCOUNT
	  "from a@b%0ARCPT%20TO:<eve@example.com>\n" L_TIMES L_COUNTS TAIL,
	  "control character" },
	{ "empty config", BASE "config \n" L_TIMES L_COUNTS TAIL,
	  "not an absolute path" },
	{ "NUL in config", BASE "config /etc/ms%00mtprc\n" L_TIMES L_COUNTS
	  TAIL, "NUL" },
	{ "duplicate config", BASE "config /a\nconfig /b\n" L_TIMES L_COUNTS
	  TAIL, "duplicate \"config\"" },
	{ "empty dsn-notify", BASE "dsn-notify \n" L_TIMES L_COUNTS TAIL,
	  "dsn-notify" },
	{ "dsn-notify with a trailing comma", BASE "dsn-notify failure,\n"
	  L_TIMES L_COUNTS TAIL, "dsn-notify" },
	{ "dsn-notify in upper case", BASE "dsn-notify FAILURE\n" L_TIMES
	  L_COUNTS TAIL, "dsn-notify" },
	{ "escaped LF in dsn-notify", BASE "dsn-notify failure%0ASIZE=1\n"
	  L_TIMES L_COUNTS TAIL, "dsn-notify" },
	{ "dsn-return in upper case", BASE "dsn-return HDRS\n" L_TIMES
	  L_COUNTS TAIL, "dsn-return" },
	{ "duplicate dsn-return", BASE "dsn-return full\ndsn-return full\n"
	  L_TIMES L_COUNTS TAIL, "duplicate \"dsn-return\"" },
	{ "missing queued", BASE "next 1800000000\n" L_COUNTS TAIL,
	  "missing \"queued\"" },
	{ "empty queued", BASE "queued \nnext 1800000000\n" L_COUNTS TAIL,
	  "queued is not a number" },
	{ "hex queued", BASE "queued 0x10\nnext 1800000000\n" L_COUNTS TAIL,
	  "queued is not a number" },
	{ "missing next", BASE "queued 1800000000\n" L_COUNTS TAIL,
	  "missing \"next\"" },
	{ "next after year 9999", BASE "queued 1800000000\nnext 253402300800\n"
	  L_COUNTS TAIL, "next out of range" },
	{ "huge next", BASE "queued 1800000000\nnext 99999999999999999999\n"
	  L_COUNTS TAIL, "next out of range" },
	{ "missing attempts", BASE L_TIMES "size 20\nmaybe-duplicate 0\n" TAIL,
	  "missing \"attempts\"" },
	{ "empty attempts", BASE L_TIMES "attempts \nsize 20\n"
	  "maybe-duplicate 0\n" TAIL, "attempts is not a number" },
	{ "negative size", BASE L_TIMES "attempts 0\nsize -20\n"
	  "maybe-duplicate 0\n" TAIL, "size is negative" },
	{ "fractional size", BASE L_TIMES "attempts 0\nsize 2.5\n"
	  "maybe-duplicate 0\n" TAIL, "size is not a number" },
	{ "missing maybe-duplicate", BASE L_TIMES "attempts 0\nsize 20\n" TAIL,
	  "missing \"maybe-duplicate\"" },
	{ "negative maybe-duplicate", BASE L_TIMES "attempts 0\nsize 20\n"
	  "maybe-duplicate -1\n" TAIL, "maybe-duplicate is negative" },
	{ "duplicate last-error", BASE L_TIMES L_COUNTS "last-error a\n"
	  "last-error b\n" TAIL, "duplicate \"last-error\"" },
	{ "bad escape in last-error", BASE L_TIMES L_COUNTS "last-error 100%\n"
	  TAIL, "bad %-escape" },
	{ "escaped state", BASE L_TIMES L_COUNTS
	  "rcpt pend%69ng bob@example.net\n" L_END, "unknown state" },
	{ "state only in upper case", BASE L_TIMES L_COUNTS
	  "rcpt PENDING bob@example.net\n" L_END, "unknown state" },
	{ "two spaces in a recipient line", BASE L_TIMES L_COUNTS
	  "rcpt pending  bob@example.net\n" L_END, "rcpt 1 is empty" },
	{ "NUL in a reply", BASE L_TIMES L_COUNTS
	  "rcpt pending bob@example.net 250%00ok\n" L_END, "NUL" },
	{ "invalid UTF-8 in a recipient", BASE L_TIMES L_COUNTS
	  "rcpt pending b%C3%28ob@example.net\n" L_END, "invalid UTF-8" },
	{ "a bad recipient after a good one", BASE L_TIMES L_COUNTS L_RCPT
	  "rcpt delivered eve@example.com>\n" L_END, "rcpt 2" },
	{ "long config", NULL, "config longer than" },
	{ "long reply", NULL, "rcpt 1 reply longer than" },
	{ "too many recipients", NULL, "too many recipients" },
	{ "long last-error", NULL, "last-error longer than" },
	{ "long line", NULL, "longer than 16384 bytes" },
	{ "long account", NULL, "account longer than" },
	{ "long recipient", NULL, "longer than 256 bytes" },
};

static void test_write_file(const char *dir, const char *name,
			    const char *data, size_t len)
{
	char path[600];
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* Read a whole small file (malloc'd, NUL-terminated); NULL if missing. */
static char *test_read_file(const char *dir, const char *name, size_t *len)
{
	char path[600];
	char *data;
	struct stat st;
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	assert_int_equal(fstat(fd, &st), 0);
	data = malloc((size_t)st.st_size + 1);
	assert_non_null(data);
	assert_int_equal(read(fd, data, (size_t)st.st_size), st.st_size);
	data[st.st_size] = '\0';
	*len = (size_t)st.st_size;
	close(fd);
	return data;
}

static int test_exists(const char *dir, const char *name)
{
	char path[600];
	struct stat st;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return lstat(path, &st) == 0;
}

/* The rows too long to write out (each too long in exactly one way),
 * and the one with a raw NUL: built here, *len bytes. */
static char *test_built_text(const char *name, size_t *len)
{
	size_t n = 40000, i, cap;
	char *fill = malloc(n + 1), *text;
	struct buf b;

	assert_non_null(fill);
	memset(fill, 'x', n);
	fill[0] = '/';
	buf_init(&b, 8 * 1024 * 1024);
	if (strcmp(name, "long last-error") == 0 || strcmp(name, "long line") == 0) {
		fill[strcmp(name, "long line") == 0 ? 20000 : 2049] = '\0';
		buf_printf(&b, BASE L_TIMES L_COUNTS "last-error %s\n" TAIL, fill);
	} else if (strcmp(name, "long account") == 0) {
		fill[1026] = '\0';      /* 1025 bytes after the '/' */
		buf_printf(&b, L_MAGIC L_ID "account %s\n" L_FROM L_TIMES L_COUNTS
			   TAIL, fill + 1);
	} else if (strcmp(name, "long config") == 0) {
		fill[4097] = '\0';      /* "/xxx...": 4097 bytes */
		buf_printf(&b, BASE "config %s\n" L_TIMES L_COUNTS TAIL, fill);
	} else if (strcmp(name, "long reply") == 0) {
		fill[2050] = '\0';      /* 2049 bytes after the '/' */
		buf_printf(&b, BASE L_TIMES L_COUNTS "rcpt pending bob@example.net "
			   "%s\n" L_END, fill + 1);
	} else if (strcmp(name, "too many recipients") == 0) {
		buf_append_str(&b, BASE L_TIMES L_COUNTS);
		for (i = 0; i <= ADDR_MAX_COUNT; i++)
			buf_printf(&b, "rcpt pending r%zu@example.net\n", i);
		buf_append_str(&b, L_END);
	} else if (strcmp(name, "raw NUL in a line") == 0) {
		buf_append_str(&b, L_MAGIC L_ID "account de");
		buf_append(&b, "\0", 1);
		buf_append_str(&b, "fault\n" L_FROM L_TIMES L_COUNTS TAIL);
	} else {
		fill[251] = '\0';       /* + "@example.net": 262 bytes */
		buf_printf(&b, BASE L_TIMES L_COUNTS "rcpt pending %s@example.net\n"
			   L_END, fill + 1);
	}
	free(fill);
	assert_true(b.len > 0);
	cap = b.len;
	text = malloc(cap + 1);
	assert_non_null(text);
	memcpy(text, b.data, cap);
	text[cap] = '\0';
	*len = cap;
	buf_free(&b);
	return text;
}

/* One damaged envelope: never listed, moved to failed/ (its raw bytes as
 * ID.env.invalid, its message too) and listed there with the reason.
 * Returns what is wrong, or NULL. */
static const char *test_one_bad_env(const struct bad_env *row, char *why,
				    size_t whylen)
{
	struct queue_entry *v = NULL;
	struct tdir t;
	struct err e;
	char failed[400], *raw, *text;
	size_t n = 99, len, tlen;

	text = row->text ? strdup(row->text) : test_built_text(row->name, &tlen);
	assert_non_null(text);
	if (row->text)
		tlen = strlen(text);
	test_tdir_open(&t);
	test_write_file(t.qdir, TID ".msg", "Subject: x\n\nbody\n", 17);
	test_write_file(t.qdir, TID ".env", text, tlen);
	snprintf(failed, sizeof failed, "%s/failed", t.qdir);
	err_init(&e);
	why[0] = '\0';
	assert_int_equal(queue_list(t.q, &v, &n, &e), 0);
	if (n != 0)
		snprintf(why, whylen, "listed as a live entry");
	queue_entries_free(v, n);
	v = NULL;
	if (!why[0] && (test_exists(t.qdir, TID ".env")
			|| test_exists(t.qdir, TID ".msg")))
		snprintf(why, whylen, "left in the queue");
	raw = why[0] ? NULL : test_read_file(failed, TID ".env.invalid", &len);
	if (!why[0] && (raw == NULL || len != tlen
			|| memcmp(raw, text, len) != 0))
		snprintf(why, whylen, "raw envelope not kept in failed/");
	free(raw);
	if (!why[0] && !test_exists(failed, TID ".msg"))
		snprintf(why, whylen, "message not moved to failed/");
	n = 0;
	if (!why[0])
		assert_int_equal(queue_list_failed(t.q, &v, &n, &e), 0);
	if (!why[0] && (n != 1 || strcmp(v[0].id, TID) != 0
			|| v[0].last_error == NULL
			|| strncmp(v[0].last_error, "invalid envelope: ", 18) != 0
			|| strstr(v[0].last_error, row->reason) == NULL))
		snprintf(why, whylen, "failed/ lists %zu entries, reason \"%s\"",
			 n, n ? v[0].last_error : "");
	if (!why[0] && (v[0].queued <= 0 || v[0].account != NULL
			|| v[0].nrcpts != 0))
		snprintf(why, whylen, "the failed entry is not the "
			 "id/reason/time stub");
	queue_entries_free(v, n);
	free(text);
	test_tdir_close(&t);
	return why[0] ? why : NULL;
}

/* Every row is tried; the failures are all listed, then the test fails. */
static void test_bad_envelopes(void **state)
{
	char why[1024];
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof bad_envs / sizeof bad_envs[0]; i++)
		if (test_one_bad_env(&bad_envs[i], why, sizeof why)) {
			print_error("  %s: %s\n", bad_envs[i].name, why);
			bad++;
		}
	if (bad)
		fail_msg("%zu of %zu damaged envelopes not handled", bad,
			 sizeof bad_envs / sizeof bad_envs[0]);
}

/* The good template itself loads (so every bad row fails for its own
 * reason), both through queue_list and queue_load. */
static void test_good_template(void **state)
{
	struct queue_entry *v = NULL, ent;
	struct tdir t;
	struct err e;
	size_t n = 0;

	(void)state;
	test_tdir_open(&t);
	test_write_file(t.qdir, TID ".msg", "Subject: x\n\nbody\n", 17);
	test_write_file(t.qdir, TID ".env", GOOD, strlen(GOOD));
	err_init(&e);
	assert_int_equal(queue_list(t.q, &v, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, TID);
	assert_string_equal(v[0].rcpts[0].addr, "bob@example.net");
	queue_entries_free(v, n);
	assert_int_equal(queue_load(t.q, TID, &ent, &e), 1);
	assert_int_equal(ent.queued, 1800000000);
	queue_entry_clear(&ent);
	test_tdir_close(&t);
}

/* queue_load (a flusher that locked the entry) meets an envelope edited
 * after the listing: an error naming the reason, and the entry is in
 * failed/. */
static void test_load_invalid(void **state)
{
	static const char text[] = BASE "queued -7\nnext 1800000000\n"
		L_COUNTS TAIL;
	struct queue_entry ent;
	struct tdir t;
	struct err e;
	char failed[400];
	int lfd;

	(void)state;
	test_tdir_open(&t);
	test_write_file(t.qdir, TID ".msg", "Subject: x\n\nbody\n", 17);
	test_write_file(t.qdir, TID ".env", text, strlen(text));
	err_init(&e);
	assert_int_equal(queue_lock(t.q, TID, &lfd, &e), 1);
	assert_int_equal(queue_load(t.q, TID, &ent, &e), -1);
	queue_unlock(lfd);
	assert_non_null(strstr(e.msg, "invalid envelope: "));
	assert_non_null(strstr(e.msg, "queued is negative"));
	assert_non_null(strstr(e.msg, "moved to failed/"));
	snprintf(failed, sizeof failed, "%s/failed", t.qdir);
	assert_true(test_exists(failed, TID ".env.invalid"));
	assert_true(test_exists(failed, TID ".msg"));
	assert_false(test_exists(t.qdir, TID ".env"));
	test_tdir_close(&t);
}

/* A file name that is not an id at all ("x y.env"): moved to failed/
 * under a fresh id, with the old name in the reason. */
static void test_bad_file_name(void **state)
{
	struct queue_entry *v = NULL;
	struct tdir t;
	struct err e;
	char failed[400];
	size_t n = 9;

	(void)state;
	test_tdir_open(&t);
	test_write_file(t.qdir, "x y.env", GOOD, strlen(GOOD));
	test_write_file(t.qdir, "x y.msg", "Subject: x\n\nbody\n", 17);
	err_init(&e);
	assert_int_equal(queue_list(t.q, &v, &n, &e), 0);
	assert_int_equal(n, 0);
	queue_entries_free(v, n);
	assert_false(test_exists(t.qdir, "x y.env"));
	assert_false(test_exists(t.qdir, "x y.msg"));
	snprintf(failed, sizeof failed, "%s/failed", t.qdir);
	assert_int_equal(test_count_files(failed), 3);  /* .env .env.invalid .msg */
	assert_int_equal(queue_list_failed(t.q, &v, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_string_not_equal(v[0].id, TID);
	assert_non_null(strstr(v[0].last_error, "invalid envelope: file name "
			       "\"x y.env\" is not a queue id"));
	queue_entries_free(v, n);
	test_tdir_close(&t);
}

/* Ids that are not ids never reach a path: "../x" cannot lock, load,
 * open, save or remove files outside the queue. */
static void test_id_outside_queue(void **state)
{
	struct queue_entry ent;
	struct tdir t;
	struct err e;
	char *data;
	size_t len;
	int fd = -1;

	(void)state;
	test_tdir_open(&t);
	test_write_file(t.top, "x.env", GOOD, strlen(GOOD));
	test_write_file(t.top, "x.msg", "outside\n", 8);
	err_init(&e);
	assert_int_equal(queue_lock(t.q, "../x", &fd, &e), -1);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(e.msg, "not a queue id"));
	err_init(&e);
	assert_int_equal(queue_load(t.q, "../x", &ent, &e), -1);
	err_init(&e);
	test_entry(&ent);
	snprintf(ent.id, sizeof ent.id, "../x");
	fd = open(t.top, O_RDONLY | O_CLOEXEC);         /* any descriptor */
	assert_int_equal(queue_open_msg(t.q, &ent, fd, &e), -1);
	assert_int_equal(e.code, ERR_USAGE);
	close(fd);
	queue_entry_clear(&ent);
	err_init(&e);
	assert_int_equal(queue_remove(t.q, "../x", &e), -1);
	assert_int_equal(e.code, ERR_USAGE);
	test_entry(&ent);
	snprintf(ent.id, sizeof ent.id, "../x");
	err_init(&e);
	assert_int_equal(queue_save(t.q, &ent, &e), -1);
	queue_entry_clear(&ent);
	data = test_read_file(t.top, "x.env", &len);
	assert_non_null(data);
	assert_memory_equal(data, GOOD, strlen(GOOD));
	free(data);
	data = test_read_file(t.top, "x.msg", &len);
	assert_non_null(data);
	assert_string_equal(data, "outside\n");
	free(data);
	test_tdir_close(&t);
}

/* Equal strings, or both NULL. */
static void test_same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void test_assert_same_entry(const struct queue_entry *a,
				   const struct queue_entry *b)
{
	size_t i;

	assert_string_equal(a->id, b->id);
	assert_string_equal(a->account, b->account);
	assert_string_equal(a->from, b->from);
	test_same_str(a->config, b->config);
	test_same_str(a->dsn_notify, b->dsn_notify);
	test_same_str(a->dsn_return, b->dsn_return);
	test_same_str(a->last_error, b->last_error);
	assert_int_equal(a->queued, b->queued);
	assert_int_equal(a->next, b->next);
	assert_int_equal(a->attempts, b->attempts);
	assert_int_equal(a->size, b->size);
	assert_int_equal(a->maybe_duplicate, b->maybe_duplicate);
	assert_int_equal(a->nrcpts, b->nrcpts);
	for (i = 0; i < a->nrcpts; i++) {
		assert_string_equal(a->rcpts[i].addr, b->rcpts[i].addr);
		assert_int_equal(a->rcpts[i].state, b->rcpts[i].state);
		test_same_str(a->rcpts[i].reply, b->rcpts[i].reply);
	}
}

/* Every field at the edges of its range survives queue_add/queue_load
 * and queue_save/queue_load unchanged. */
static void test_round_trip(void **state)
{
	static const char *const addrs[] = {
		"bob@example.net", "\"john doe\"@example.org",
		"j\xc3\xb6ran@example.org", "100%@example.com",
	};
	struct queue_entry ent, back;
	struct tdir t;
	struct msg *m;
	struct err e;
	size_t i;

	(void)state;
	test_tdir_open(&t);
	memset(&ent, 0, sizeof ent);
	queue_new_id(&ent);
	ent.account = strdup("my account");
	ent.from = strdup("");          /* the null sender */
	ent.config = strdup("/home/u/my msmtprc %41");
	ent.dsn_notify = strdup("failure,delay");
	ent.dsn_return = strdup("headers");
	ent.last_error = strdup("451 4.3.0 100% busy, try later");
	ent.rcpts = calloc(4, sizeof *ent.rcpts);
	assert_non_null(ent.rcpts);
	for (i = 0; i < 4; i++) {
		ent.rcpts[i].addr = strdup(addrs[i]);
		ent.rcpts[i].state = (enum queue_rcpt_state)(i % 3);
	}
	ent.rcpts[1].reply = strdup("250 2.1.5 ok");
	ent.rcpts[2].reply = strdup("550 5.1.1 <j\xc3\xb6ran@example.org> unknown");
	ent.nrcpts = 4;
	ent.queued = 0;
	ent.next = 253402300799LL;      /* 9999-12-31T23:59:59Z */
	ent.attempts = 1000000;
	ent.size = 9007199254740992ULL; /* 2^53 */
	ent.maybe_duplicate = 1;
	m = test_msg("Subject: x\n\nbody\n");
	err_init(&e);
	assert_int_equal(queue_add(t.q, &ent, m, &e), 0);
	assert_int_equal(queue_load(t.q, ent.id, &back, &e), 1);
	test_assert_same_entry(&ent, &back);
	queue_entry_clear(&back);
	/* and the other edges through queue_save */
	free(ent.from);
	ent.from = strdup("alice@example.org");
	free(ent.config);
	ent.config = NULL;
	free(ent.dsn_notify);
	ent.dsn_notify = strdup("never");
	free(ent.dsn_return);
	ent.dsn_return = strdup("full");
	ent.queued = 253402300799LL;
	ent.next = 0;
	ent.attempts = 0;
	ent.size = 0;
	ent.maybe_duplicate = 0;
	assert_int_equal(queue_save(t.q, &ent, &e), 0);
	assert_int_equal(queue_load(t.q, ent.id, &back, &e), 1);
	test_assert_same_entry(&ent, &back);
	assert_null(back.config);
	queue_entry_clear(&back);
	msg_free(m);
	queue_entry_clear(&ent);
	test_tdir_close(&t);
}

/* What the queue writes it accepts back: server text with control bytes
 * is stored with spaces instead; fields that would make an invalid
 * envelope are refused before anything is written. */
static void test_save_checks(void **state)
{
	struct queue_entry ent, back;
	struct tdir t;
	struct err e;

	(void)state;
	test_tdir_open(&t);
	test_entry(&ent);
	ent.last_error = strdup("451 a\tb\r\nc\x7f");
	ent.rcpts[0].reply = strdup("450\tbusy");
	err_init(&e);
	assert_int_equal(queue_save(t.q, &ent, &e), 0);
	assert_int_equal(queue_load(t.q, ent.id, &back, &e), 1);
	assert_string_equal(back.last_error, "451 a b  c ");
	assert_string_equal(back.rcpts[0].reply, "450 busy");
	queue_entry_clear(&back);
	assert_int_equal(queue_remove(t.q, ent.id, &e), 0);
	ent.config = strdup("relative/msmtprc");
	assert_int_equal(queue_save(t.q, &ent, &e), -1);
	assert_non_null(strstr(e.msg, "not an absolute path"));
	free(ent.config);
	ent.config = NULL;
	free(ent.rcpts[0].addr);
	ent.rcpts[0].addr = strdup("bob@example.net\r\nRCPT TO:<eve@x>");
	err_init(&e);
	assert_int_equal(queue_save(t.q, &ent, &e), -1);
	assert_int_equal(e.code, ERR_DATAERR);
	assert_int_equal(test_count_files(t.qdir), 1);  /* tmp/ only */
	queue_entry_clear(&ent);
	test_tdir_close(&t);
}

/* A normal failure is listed in failed/ with its whole envelope. */
static void test_list_failed_normal(void **state)
{
	struct queue_entry ent, *v = NULL;
	struct tdir t;
	struct msg *m;
	struct err e;
	size_t n = 0;

	(void)state;
	test_tdir_open(&t);
	test_entry(&ent);
	m = test_msg("Subject: x\n\nbody\n");
	err_init(&e);
	assert_int_equal(queue_list_failed(t.q, &v, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(queue_add(t.q, &ent, m, &e), 0);
	assert_int_equal(queue_move_failed(t.q, &ent, "550 5.1.1 no such user",
					   &e), 0);
	assert_int_equal(queue_list_failed(t.q, &v, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, ent.id);
	assert_string_equal(v[0].account, "default");
	assert_string_equal(v[0].last_error, "550 5.1.1 no such user");
	assert_int_equal(v[0].nrcpts, 1);
	queue_entries_free(v, n);
	msg_free(m);
	queue_entry_clear(&ent);
	test_tdir_close(&t);
}

/* ids as queue_new_id makes them are valid; near misses are not */
static void test_id_syntax(void **state)
{
	static const char *const bad[] = {
		"", "../x", "x", "2026010100000-1234-0123abcd",
		"20260101000000-1234-0123abc", "20260101000000--0123abcd",
		"20260101000000-1234-0123ABCD", "20260101000000-12345678901-0123abcd",
		"20260101000000-1234-0123abcd.env", "20260101000000-1234-0123abcd ",
		"20260101000000_1234-0123abcd", "2026010100000a-1234-0123abcd",
	};
	struct queue_entry ent;
	size_t i;

	(void)state;
	for (i = 0; i < 100; i++) {
		queue_new_id(&ent);
		assert_true(queue_id_valid(ent.id));
		assert_true(strlen(ent.id) <= QUEUE_ID_MAX);
	}
	assert_true(queue_id_valid(TID));
	assert_true(queue_id_valid("20260101000000-1-00000000"));
	assert_true(queue_id_valid("20260101000000-1234567890-ffffffff"));
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (queue_id_valid(bad[i]))
			fail_msg("\"%s\" taken for an id", bad[i]);
}

/* ---- links and other planted files ---------------------------------- */

static void test_symlink(const char *target, const char *dir, const char *name)
{
	char path[600];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	assert_int_equal(symlink(target, path), 0);
}

static int test_is_link(const char *dir, const char *name)
{
	char path[600];
	struct stat st;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

/* The failed/ listing holds exactly one entry, TID, with this reason. */
static void test_failed_reason(struct tdir *t, const char *reason)
{
	struct queue_entry *v = NULL;
	struct err e;
	size_t n = 0;

	err_init(&e);
	assert_int_equal(queue_list_failed(t->q, &v, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, TID);
	assert_string_equal(v[0].last_error, reason);
	queue_entries_free(v, n);
}

/* ID.msg -> a file of the user's (think /etc/passwd under root's run):
 * never opened, locked, sent or deleted; the link itself goes to
 * failed/. */
static void test_symlinked_message(void **state)
{
	static const char secret[] = "Subject: secret\n\nnot for the queue\n";
	struct queue_entry *v = NULL;
	struct tdir t;
	struct err e;
	char target[400], failed[400], *data;
	size_t n = 9, len;
	int fd = 7;

	(void)state;
	test_tdir_open(&t);
	test_write_file(t.top, "secret", secret, strlen(secret));
	snprintf(target, sizeof target, "%s/secret", t.top);
	test_write_file(t.qdir, TID ".env", GOOD, strlen(GOOD));
	test_symlink(target, t.qdir, TID ".msg");
	err_init(&e);
	assert_int_equal(queue_lock(t.q, TID, &fd, &e), -1);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(e.msg, "not a regular file"));
	err_init(&e);
	assert_int_equal(queue_list(t.q, &v, &n, &e), 0);
	assert_int_equal(n, 0);
	queue_entries_free(v, n);
	snprintf(failed, sizeof failed, "%s/failed", t.qdir);
	assert_true(test_is_link(failed, TID ".msg"));
	assert_false(test_exists(t.qdir, TID ".msg"));
	test_failed_reason(&t, "invalid entry: the message file is not a "
			   "regular file");
	data = test_read_file(t.top, "secret", &len);
	assert_non_null(data);
	assert_string_equal(data, secret);
	free(data);
	test_tdir_close(&t);
}

/* ID.env -> an envelope outside the queue: not read through the link;
 * the link is what moves to failed/, the file it names stays. */
static void test_symlinked_envelope(void **state)
{
	struct queue_entry *v = NULL, ent;
	struct tdir t;
	struct err e;
	char target[400], failed[400], *data;
	size_t n = 9, len;
	int fd;

	(void)state;
	test_tdir_open(&t);
	test_write_file(t.top, "outside.env", GOOD, strlen(GOOD));
	snprintf(target, sizeof target, "%s/outside.env", t.top);
	test_symlink(target, t.qdir, TID ".env");
	test_write_file(t.qdir, TID ".msg", "Subject: x\n\nbody\n", 17);
	err_init(&e);
	assert_int_equal(queue_lock(t.q, TID, &fd, &e), 1);
	assert_int_equal(queue_load(t.q, TID, &ent, &e), -1);
	queue_unlock(fd);
	assert_non_null(strstr(e.msg, "invalid envelope: a symbolic link"));
	err_init(&e);
	assert_int_equal(queue_list(t.q, &v, &n, &e), 0);
	assert_int_equal(n, 0);
	queue_entries_free(v, n);
	snprintf(failed, sizeof failed, "%s/failed", t.qdir);
	assert_true(test_is_link(failed, TID ".env.invalid"));
	test_failed_reason(&t, "invalid envelope: a symbolic link");
	data = test_read_file(t.top, "outside.env", &len);
	assert_non_null(data);
	assert_string_equal(data, GOOD);
	free(data);
	test_tdir_close(&t);
}

/* A FIFO as ID.env or ID.msg must not hang a listing or a lock (the
 * alarm turns a hang into a failure). */
static void test_fifo_entry(void **state)
{
	struct queue_entry *v = NULL;
	struct tdir t;
	struct err e;
	char path[600];
	size_t n = 9;
	int fd;

	(void)state;
	test_tdir_open(&t);
	snprintf(path, sizeof path, "%s/%s.env", t.qdir, TID);
	assert_int_equal(mkfifo(path, 0600), 0);
	test_write_file(t.qdir, TID ".msg", "Subject: x\n\nbody\n", 17);
	alarm(10);
	err_init(&e);
	assert_int_equal(queue_list(t.q, &v, &n, &e), 0);
	assert_int_equal(n, 0);
	queue_entries_free(v, n);
	test_failed_reason(&t, "invalid envelope: not a regular file");
	test_tdir_close(&t);
	test_tdir_open(&t);
	test_write_file(t.qdir, TID ".env", GOOD, strlen(GOOD));
	snprintf(path, sizeof path, "%s/%s.msg", t.qdir, TID);
	assert_int_equal(mkfifo(path, 0600), 0);
	err_init(&e);
	assert_int_equal(queue_lock(t.q, TID, &fd, &e), -1);
	assert_int_equal(fd, -1);
	alarm(0);
	test_tdir_close(&t);
}

/* failed/ replaced by a link to another directory: nothing is moved
 * through it, the entry stays where it was. */
static void test_symlinked_failed_dir(void **state)
{
	struct queue_entry ent;
	struct tdir t;
	struct msg *m;
	struct err e;
	char elsewhere[400];

	(void)state;
	test_tdir_open(&t);
	snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere", t.top);
	assert_int_equal(mkdir(elsewhere, 0700), 0);
	test_symlink(elsewhere, t.qdir, "failed");
	test_entry(&ent);
	m = test_msg("Subject: x\n\nbody\n");
	err_init(&e);
	assert_int_equal(queue_add(t.q, &ent, m, &e), 0);
	assert_int_equal(queue_move_failed(t.q, &ent, "550 no", &e), -1);
	assert_int_equal(test_count_files(elsewhere), 0);
	assert_int_equal(test_count_files(t.qdir), 4);  /* tmp failed .env .msg */
	msg_free(m);
	queue_entry_clear(&ent);
	test_tdir_close(&t);
}

/* ---- files planted by someone else, and swaps between check and use ---- */

static void test_hard_link(const char *target, const char *dir,
			   const char *name)
{
	char path[600];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	assert_int_equal(link(target, path), 0);
}

/* Make dir/name a sparse file of `size` bytes. */
static void test_sparse(const char *dir, const char *name, off_t size)
{
	char path[600];
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	close(fd);
}

/* queue_list on one planted entry: nothing listed, the entry is in
 * failed/ with this reason, and `outside` (a file the entry pointed at,
 * or NULL) still holds `content`. */
static void test_planted(struct tdir *t, const char *reason,
			 const char *outside, const char *content)
{
	struct queue_entry *v = NULL;
	struct err e;
	size_t n = 9, len;
	char *data;

	err_init(&e);
	assert_int_equal(queue_list(t->q, &v, &n, &e), 0);
	assert_int_equal(n, 0);
	queue_entries_free(v, n);
	assert_false(test_exists(t->qdir, TID ".env"));
	assert_false(test_exists(t->qdir, TID ".msg"));
	test_failed_reason(t, reason);
	if (outside == NULL)
		return;
	data = test_read_file(t->top, outside, &len);
	assert_non_null(data);
	assert_string_equal(data, content);
	free(data);
}

/* A hard link as ID.msg (to a file elsewhere: think another user's mail
 * on a system without protected_hardlinks) is neither locked nor sent:
 * the entry goes to failed/, the file it shares stays as it was. */
static void test_hard_linked_message(void **state)
{
	static const char other[] = "Subject: other\n\nnot this entry's\n";
	struct tdir t;
	struct err e;
	char target[400];
	int fd = 7;

	(void)state;
	test_tdir_open(&t);
	test_write_file(t.top, "other", other, strlen(other));
	snprintf(target, sizeof target, "%s/other", t.top);
	test_write_file(t.qdir, TID ".env", GOOD, strlen(GOOD));
	test_hard_link(target, t.qdir, TID ".msg");
	err_init(&e);
	assert_int_equal(queue_lock(t.q, TID, &fd, &e), -1);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(e.msg, "the message file is a hard link"));
	test_planted(&t, "invalid entry: the message file is a hard link",
		     "other", other);
	test_tdir_close(&t);
}

/* A hard link as ID.env: never parsed, however valid what it shares. */
static void test_hard_linked_envelope(void **state)
{
	struct tdir t;
	char target[400];

	(void)state;
	test_tdir_open(&t);
	test_write_file(t.top, "outside.env", GOOD, strlen(GOOD));
	snprintf(target, sizeof target, "%s/outside.env", t.top);
	test_hard_link(target, t.qdir, TID ".env");
	test_write_file(t.qdir, TID ".msg", "Subject: x\n\nbody\n", 17);
	test_planted(&t, "invalid envelope: a hard link", "outside.env", GOOD);
	test_tdir_close(&t);
}

/* Entry files owned by another user (root can plant them; so can anyone
 * on a file system that ignores ownership) are never read.  Needs root to
 * chown; skipped otherwise. */
static void test_foreign_files(void **state)
{
	struct tdir t;
	char path[600];

	(void)state;
	if (geteuid() != 0)
		skip();
	test_tdir_open(&t);
	test_write_file(t.qdir, TID ".env", GOOD, strlen(GOOD));
	test_write_file(t.qdir, TID ".msg", "Subject: x\n\nbody\n", 17);
	snprintf(path, sizeof path, "%s/%s.msg", t.qdir, TID);
	assert_int_equal(chown(path, 65534, 65534), 0);
	test_planted(&t, "invalid entry: the message file is owned by another "
		     "user", NULL, NULL);
	test_tdir_close(&t);
	test_tdir_open(&t);
	test_write_file(t.qdir, TID ".env", GOOD, strlen(GOOD));
	test_write_file(t.qdir, TID ".msg", "Subject: x\n\nbody\n", 17);
	snprintf(path, sizeof path, "%s/%s.env", t.qdir, TID);
	assert_int_equal(chown(path, 65534, 65534), 0);
	test_planted(&t, "invalid envelope: owned by another user", NULL, NULL);
	test_tdir_close(&t);
}

/* A 100 MB (sparse) ID.env is refused by its size, unread. */
static void test_oversized_envelope(void **state)
{
	struct tdir t;

	(void)state;
	test_tdir_open(&t);
	test_sparse(t.qdir, TID ".env", 100 * 1024 * 1024);
	test_write_file(t.qdir, TID ".msg", "Subject: x\n\nbody\n", 17);
	alarm(20);
	test_planted(&t, "invalid envelope: larger than 4 MiB", NULL, NULL);
	alarm(0);
	test_tdir_close(&t);
}

/* An ID.msg larger than its envelope's size (GOOD says 20 bytes) is not
 * read: at the listing, and at the use when it grew after the lock. */
static void test_oversized_message(void **state)
{
	struct queue_entry ent;
	struct tdir t;
	struct err e;
	char path[600];
	int lfd, fd;

	(void)state;
	test_tdir_open(&t);
	test_write_file(t.qdir, TID ".env", GOOD, strlen(GOOD));
	test_sparse(t.qdir, TID ".msg", 100 * 1024 * 1024);
	test_planted(&t, "invalid entry: the message file is larger than its "
		     "envelope says (104857600 bytes, size 20)", NULL, NULL);
	test_tdir_close(&t);
	test_tdir_open(&t);
	test_write_file(t.qdir, TID ".env", GOOD, strlen(GOOD));
	test_write_file(t.qdir, TID ".msg", "Subject: x\n\nbody\n", 17);
	err_init(&e);
	assert_int_equal(queue_lock(t.q, TID, &lfd, &e), 1);
	assert_int_equal(queue_load(t.q, TID, &ent, &e), 1);
	snprintf(path, sizeof path, "%s/%s.msg", t.qdir, TID);
	assert_int_equal(truncate(path, 21), 0);        /* one byte too many */
	fd = queue_open_msg(t.q, &ent, lfd, &e);
	assert_int_equal(fd, -1);
	assert_int_equal(e.code, ERR_DATAERR);
	assert_non_null(strstr(e.msg, "larger than its envelope says (21 "
			       "bytes, size 20); moved to failed/"));
	queue_unlock(lfd);
	queue_entry_clear(&ent);
	assert_false(test_exists(t.qdir, TID ".msg"));
	test_tdir_close(&t);
}

/* Read a descriptor to its end (malloc'd, NUL-terminated). */
static char *test_read_fd(int fd)
{
	char *data = malloc(4096);
	ssize_t n;

	assert_non_null(data);
	n = read(fd, data, 4095);
	assert_true(n >= 0);
	data[n] = '\0';
	return data;
}

/* The race a user could run against a flusher: between the check (the
 * lock, on the open file) and the use (reading the message), ID.msg is
 * renamed over by a symbolic link to a file elsewhere, by a hard link to
 * it, or by another regular file of the user's.  The flusher reads the
 * file it locked and checked, whatever the name points to by now: the
 * interleaving is forced here step by step, so the property holds by
 * construction, not by luck in timing. */
static void test_swap_after_lock(void **state)
{
	static const char secret[] = "Subject: secret\n\nnot for the queue\n";
	static const char *const kinds[] = { "symlink", "hard link", "file" };
	static const char body[] = "Subject: x\n\nbody\n";
	struct queue_entry ent, *v = NULL;
	struct tdir t;
	struct msg *m;
	struct err e;
	char target[400], evil[600], name[600], *data;
	size_t k, n = 0;
	int lfd, fd;

	(void)state;
	for (k = 0; k < 3; k++) {
		test_tdir_open(&t);
		test_write_file(t.top, "secret", secret, strlen(secret));
		snprintf(target, sizeof target, "%s/secret", t.top);
		test_entry(&ent);
		m = test_msg(body);
		err_init(&e);
		assert_int_equal(queue_add(t.q, &ent, m, &e), 0);
		assert_int_equal(queue_list(t.q, &v, &n, &e), 0);
		assert_int_equal(n, 1);
		queue_entries_free(v, n);
		assert_int_equal(queue_lock(t.q, ent.id, &lfd, &e), 1);
		/* the attacker's move */
		snprintf(evil, sizeof evil, "%s/evil", t.top);
		if (k == 0)
			assert_int_equal(symlink(target, evil), 0);
		else if (k == 1)
			assert_int_equal(link(target, evil), 0);
		else
			test_write_file(t.top, "evil", secret, strlen(secret));
		snprintf(name, sizeof name, "%s/%s.msg", t.qdir, ent.id);
		assert_int_equal(rename(evil, name), 0);
		/* the use */
		fd = queue_open_msg(t.q, &ent, lfd, &e);
		if (fd < 0)
			fail_msg("%s swapped in: %s", kinds[k], e.msg);
		data = test_read_fd(fd);
		if (strcmp(data, body) != 0)
			fail_msg("%s swapped in after the lock: read \"%s\"",
				 kinds[k], data);
		free(data);
		close(fd);
		queue_unlock(lfd);
		/* a later flusher meets the swapped-in file at its lock */
		if (k < 2) {
			assert_int_equal(queue_lock(t.q, ent.id, &lfd, &e), -1);
			assert_int_equal(lfd, -1);
		}
		data = test_read_file(t.top, "secret", &n);
		assert_non_null(data);
		assert_string_equal(data, secret);
		free(data);
		msg_free(m);
		queue_entry_clear(&ent);
		test_tdir_close(&t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fsync_failure_closes),
		cmocka_unit_test(test_good_template),
		cmocka_unit_test(test_bad_envelopes),
		cmocka_unit_test(test_load_invalid),
		cmocka_unit_test(test_bad_file_name),
		cmocka_unit_test(test_id_outside_queue),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_save_checks),
		cmocka_unit_test(test_list_failed_normal),
		cmocka_unit_test(test_id_syntax),
		cmocka_unit_test(test_symlinked_message),
		cmocka_unit_test(test_symlinked_envelope),
		cmocka_unit_test(test_fifo_entry),
		cmocka_unit_test(test_symlinked_failed_dir),
		cmocka_unit_test(test_hard_linked_message),
		cmocka_unit_test(test_hard_linked_envelope),
		cmocka_unit_test(test_foreign_files),
		cmocka_unit_test(test_oversized_envelope),
		cmocka_unit_test(test_oversized_message),
		cmocka_unit_test(test_swap_after_lock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
