/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "torture.h"

#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The real functions, as the linker's --wrap names them. */
void *__real_malloc(size_t n);
void *__real_calloc(size_t nmemb, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
char *__real_realpath(const char *path, char *resolved);
FILE *__real_fopen(const char *path, const char *mode);
FILE *__real_fdopen(int fd, const char *mode);
DIR *__real_opendir(const char *path);
DIR *__real_fdopendir(int fd);

#define TORTURE_STACK_MAX 32

static struct {
	int ready;                      /* the environment was read */
	pid_t owner;                    /* the process that counts */
	unsigned long count;            /* allocations counted so far */
	unsigned long fail_at;          /* 0: never fail */
	int sticky;                     /* "N+": every one from N on */
	int injected;                   /* a failure was injected */
	const char *count_path;
	const char *log_path;
} torture;

/* A decimal count from the environment; 0 when absent or malformed. */
static unsigned long torture_number(const char *s, int *sticky)
{
	unsigned long n = 0;

	*sticky = 0;
	if (s == NULL)
		return 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (n > (unsigned long)-1 / 10 - 1)
			return 0;
		n = n * 10 + (unsigned long)(*s - '0');
	}
	if (*s == '+') {
		*sticky = 1;
		s++;
	}
	return *s == '\0' ? n : 0;
}

/* Written at exit by the counting process: the driver learns from an
 * undisturbed run how many allocations there are to fail. */
static void torture_write_count(void)
{
	char line[64];
	int fd, n;

	if (torture.count_path == NULL || getpid() != torture.owner)
		return;
	n = snprintf(line, sizeof line, "%lu %d\n", torture.count,
		     torture.injected);
	fd = open(torture.count_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) != n) {
		/* nothing to do: the driver sees a short file */
	}
	close(fd);
}

static void torture_setup(void)
{
	torture.ready = 1;
	torture.owner = getpid();
	torture.fail_at = torture_number(getenv("MSMTP_TORTURE_FAIL"),
					 &torture.sticky);
	torture.count_path = getenv("MSMTP_TORTURE_COUNT");
	torture.log_path = getenv("MSMTP_TORTURE_LOG");
	if (torture.count_path != NULL)
		atexit(torture_write_count);
}

/* Where the injected failure happened, for the one reading the driver's
 * report (addresses: addr2line -e src/msmtp). */
static void torture_log_stack(void)
{
	void *frames[TORTURE_STACK_MAX];
	char line[64];
	int fd, n;

	if (torture.log_path == NULL)
		return;
	fd = open(torture.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return;
	n = snprintf(line, sizeof line, "allocation %lu failed:\n",
		     torture.count);
	if (write(fd, line, (size_t)n) == n) {
		n = backtrace(frames, TORTURE_STACK_MAX);
		backtrace_symbols_fd(frames, n, fd);
	}
	close(fd);
}

/* Count one allocation of ours; 1 when it is the one to fail. */
static int torture_fails(void)
{
	if (!torture.ready)
		torture_setup();
	if (getpid() != torture.owner)
		return 0;
	torture.count++;
	if (torture.fail_at == 0 || torture.count < torture.fail_at
	    || (torture.count > torture.fail_at && !torture.sticky))
		return 0;
	if (!torture.injected)
		torture_log_stack();
	torture.injected = 1;
	errno = ENOMEM;
	return 1;
}

void *__wrap_malloc(size_t n)
{
	return torture_fails() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t nmemb, size_t size)
{
	return torture_fails() ? NULL : __real_calloc(nmemb, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return torture_fails() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return torture_fails() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return torture_fails() ? NULL : __real_strndup(s, n);
}

/* Only realpath(path, NULL) allocates. */
char *__wrap_realpath(const char *path, char *resolved)
{
	if (resolved == NULL && torture_fails())
		return NULL;
	return __real_realpath(path, resolved);
}

FILE *__wrap_fopen(const char *path, const char *mode)
{
	return torture_fails() ? NULL : __real_fopen(path, mode);
}

FILE *__wrap_fdopen(int fd, const char *mode)
{
	return torture_fails() ? NULL : __real_fdopen(fd, mode);
}

DIR *__wrap_opendir(const char *path)
{
	return torture_fails() ? NULL : __real_opendir(path);
}

DIR *__wrap_fdopendir(int fd)
{
	return torture_fails() ? NULL : __real_fdopendir(fd);
}
