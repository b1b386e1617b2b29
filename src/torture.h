/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * torture - allocation-failure injection, in the torture build only
 * (./configure --enable-alloc-torture); a release build neither compiles
 * nor links this module.
 *
 * The msmtp binary of that build is linked with -Wl,--wrap=NAME for every
 * allocating libc call our own code makes directly (malloc, calloc,
 * realloc, strdup, strndup, realpath with a NULL buffer, fopen, fdopen,
 * opendir, fdopendir): the linker sends the calls of src/ here, and
 * only those - the libraries (GnuTLS, GNU SASL, libcurl, json-c, libidn2,
 * libc itself) are shared objects and keep calling the real allocator,
 * so their allocations are not counted.
 *
 * Controlled by the environment, read at the first allocation:
 *   MSMTP_TORTURE_FAIL=N    the N-th counted allocation fails (NULL with
 *                           errno ENOMEM), and only that one;
 *   MSMTP_TORTURE_FAIL=N+   the N-th and every later one fail;
 *   MSMTP_TORTURE_COUNT=P   at exit, write "COUNT INJECTED\n" to the file
 *                           P: how many allocations were counted and
 *                           whether a failure was injected (1) or not (0);
 *   MSMTP_TORTURE_LOG=P     on the injected failure, append the call
 *                           stack (backtrace_symbols_fd) to the file P.
 * Without MSMTP_TORTURE_FAIL nothing fails.  Only the process that made
 * the first allocation counts and fails: a forked child (the per-user
 * children of root's queue run, -odb's background flush, the browser
 * launcher) neither counts nor fails, since nothing the driver judges
 * (exit status, stderr) comes from it.
 */
#ifndef MSMTP_TORTURE_H
#define MSMTP_TORTURE_H

#include <dirent.h>
#include <stddef.h>
#include <stdio.h>

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t nmemb, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
char *__wrap_realpath(const char *path, char *resolved);
FILE *__wrap_fopen(const char *path, const char *mode);
FILE *__wrap_fdopen(int fd, const char *mode);
DIR *__wrap_opendir(const char *path);
DIR *__wrap_fdopendir(int fd);

#endif
