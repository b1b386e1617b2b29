/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ext_open_module() (src/ext.h): which module files the loader accepts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ext.h"

struct tree {
	char dir[64];
	char file[96];
};

/* A fresh directory (0755) holding one file m.so (0755). */
static int tree_setup(void **state)
{
	struct tree *t = calloc(1, sizeof *t);
	FILE *f;

	assert_non_null(t);
	snprintf(t->dir, sizeof t->dir, "/tmp/test_ext.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	assert_int_equal(chmod(t->dir, 0755), 0);
	snprintf(t->file, sizeof t->file, "%s/m.so", t->dir);
	f = fopen(t->file, "w");
	assert_non_null(f);
	fputs("not really a module\n", f);
	fclose(f);
	assert_int_equal(chmod(t->file, 0755), 0);
	*state = t;
	return 0;
}

static int tree_teardown(void **state)
{
	struct tree *t = *state;
	char other[112];

	snprintf(other, sizeof other, "%s/link.so", t->dir);
	unlink(other);
	unlink(t->file);
	rmdir(t->dir);
	free(t);
	return 0;
}

/* -1 with ERR_UNAVAILABLE and `why` in the message, or the fd closed. */
static void expect_open(const char *path, const char *why)
{
	struct err e;
	int fd;

	err_init(&e);
	fd = ext_open_module(path, &e);
	if (why == NULL) {
		assert_true(fd >= 0);
		assert_int_equal(e.code, 0);
		close(fd);
		return;
	}
	assert_int_equal(fd, -1);
	assert_int_equal(e.code, ERR_UNAVAILABLE);
	assert_non_null(strstr(e.msg, "cannot load "));
	assert_non_null(strstr(e.msg, why));
}

static void test_good(void **state)
{
	struct tree *t = *state;

	expect_open(t->file, NULL);
	/* group write of our own group is accepted (0775 trees) */
	assert_int_equal(chmod(t->dir, 0775), 0);
	assert_int_equal(chown(t->dir, (uid_t)-1, getegid()), 0);
	expect_open(t->file, NULL);
}

static void test_writable_by_others(void **state)
{
	struct tree *t = *state;

	assert_int_equal(chmod(t->file, 0757), 0);
	expect_open(t->file, "the file is writable by others");
	assert_int_equal(chmod(t->file, 0755), 0);
	assert_int_equal(chmod(t->dir, 0757), 0);
	expect_open(t->file, "its directory is writable by others");
}

static void test_missing_and_special(void **state)
{
	struct tree *t = *state;
	char path[112];

	snprintf(path, sizeof path, "%s/none.so", t->dir);
	expect_open(path, "No such file");
	expect_open("relative.so", "not an absolute path");
	snprintf(path, sizeof path, "%s/sub.so", t->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	expect_open(path, "not a regular file");
	rmdir(path);
	snprintf(path, sizeof path, "%s/link.so", t->dir);
	assert_int_equal(symlink(t->file, path), 0);
	expect_open(path, "symbolic links");
}

/* Owners and groups: only root can hand files to others. */
static void test_owner_and_group(void **state)
{
	struct tree *t = *state;

	if (geteuid() != 0) {
		skip();
		return;
	}
	assert_int_equal(chown(t->file, 1234, 1234), 0);
	expect_open(t->file, "the file is owned by uid 1234");
	assert_int_equal(chown(t->file, 0, 1234), 0);
	assert_int_equal(chmod(t->file, 0775), 0);
	expect_open(t->file, "the file is writable by another group");
	assert_int_equal(chmod(t->file, 0755), 0);
	expect_open(t->file, NULL);
	assert_int_equal(chown(t->dir, 1234, 0), 0);
	expect_open(t->file, "its directory is owned by uid 1234");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good, tree_setup,
						tree_teardown),
		cmocka_unit_test_setup_teardown(test_writable_by_others,
						tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_missing_and_special,
						tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_owner_and_group,
						tree_setup, tree_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
