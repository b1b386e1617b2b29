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
	char path[] = "/tmp/test_queue_msg.XXXXXX";
	struct msg_read_opts ro;
	struct msg *m = NULL;
	struct err e;
	int fd = mkstemp(path);

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fsync_failure_closes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
