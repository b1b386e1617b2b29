/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "fuzzkit.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void fuzz_fail(const char *what, const char *file, int line)
{
	fprintf(stderr, "fuzz invariant broken at %s:%d: %s\n", file, line,
		what);
	abort();
}

void fuzz_in_init(struct fuzz_in *in, const uint8_t *data, size_t size)
{
	in->p = data;
	in->n = size;
}

unsigned fuzz_byte(struct fuzz_in *in)
{
	unsigned b;

	if (in->n == 0)
		return 0;
	b = in->p[0];
	in->p++;
	in->n--;
	return b;
}

size_t fuzz_range(struct fuzz_in *in, size_t max)
{
	size_t v = fuzz_byte(in);

	if (max > 255)
		v = v << 8 | fuzz_byte(in);
	return max == 0 ? 0 : v % (max + 1);
}

char *fuzz_take_until(struct fuzz_in *in, unsigned char sep, size_t *len)
{
	const uint8_t *end = memchr(in->p, sep, in->n);
	size_t l = end ? (size_t)(end - in->p) : in->n;
	char *s = malloc(l + 1);

	if (s == NULL)
		return NULL;
	if (l > 0)
		memcpy(s, in->p, l);
	s[l] = '\0';
	if (len)
		*len = l;
	in->p += l;
	in->n -= l;
	if (end) {
		in->p++;
		in->n--;
	}
	return s;
}

int fuzz_memfd(const void *data, size_t n)
{
	const char *p = data;
	int fd = memfd_create("fuzz", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

void fuzz_fd_path(int fd, char *out, size_t outlen)
{
	snprintf(out, outlen, "/proc/self/fd/%d", fd);
}

static char fuzz_dir[256];

static int fuzz_rm_one(const char *path, const struct stat *st, int flag,
		       struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* atexit: leave nothing behind */
static void fuzz_rm_scratch(void)
{
	if (fuzz_dir[0] != '\0')
		nftw(fuzz_dir, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_scratch_dir(void)
{
	struct stat st;
	const char *base = getenv("TMPDIR");

	if (fuzz_dir[0] != '\0')
		return fuzz_dir;
	if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode)
	    && access("/dev/shm", W_OK) == 0)
		base = "/dev/shm";
	else if (base == NULL || base[0] != '/')
		base = "/tmp";
	snprintf(fuzz_dir, sizeof fuzz_dir, "%s/msmtp-fuzz-XXXXXX", base);
	if (mkdtemp(fuzz_dir) == NULL) {
		fprintf(stderr, "fuzz: cannot make a scratch directory: %s\n",
			strerror(errno));
		abort();
	}
	atexit(fuzz_rm_scratch);
	return fuzz_dir;
}
