/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * replay - a main() for a fuzz target without libFuzzer: runs
 * LLVMFuzzerTestOneInput on every file named on the command line and on
 * every file in every directory named (in name order).  A broken
 * invariant aborts; a clean run prints how many inputs it replayed.
 * `make check` runs it over each target's corpus and regression inputs.
 */
#include "config.h"
#include "fuzzkit.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REPLAY_MAX (16 * 1024 * 1024)

/* Read a whole file; NULL (with a message) on failure. */
static uint8_t *replay_read(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p = NULL;
	size_t cap = 0, len = 0, got;

	if (f == NULL) {
		fprintf(stderr, "replay: cannot open %s: %s\n", path,
			strerror(errno));
		return NULL;
	}
	do {
		if (len == cap) {
			uint8_t *np;

			cap = cap ? cap * 2 : 4096;
			np = cap <= REPLAY_MAX ? realloc(p, cap) : NULL;
			if (np == NULL) {
				fprintf(stderr, "replay: %s too large\n", path);
				free(p);
				fclose(f);
				return NULL;
			}
			p = np;
		}
		got = fread(p + len, 1, cap - len, f);
		len += got;
	} while (got > 0);
	fclose(f);
	*n = len;
	return p;
}

static int replay_file(const char *path)
{
	size_t n = 0;
	uint8_t *p = replay_read(path, &n);

	if (p == NULL)
		return -1;
	LLVMFuzzerTestOneInput(p, n);
	free(p);
	return 0;
}

static int replay_name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Every regular file of a directory; -1 on an unreadable one. */
static int replay_dir(const char *dir, long *count)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, replay_name_cmp), i, r = 0;

	if (n < 0) {
		fprintf(stderr, "replay: cannot list %s: %s\n", dir,
			strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		char path[4096];
		struct stat st;

		snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
		if (names[i]->d_name[0] != '.' && stat(path, &st) == 0
		    && S_ISREG(st.st_mode)) {
			if (replay_file(path) < 0)
				r = -1;
			else
				(*count)++;
		}
		free(names[i]);
	}
	free(names);
	return r;
}

int main(int argc, char **argv)
{
	long count = 0;
	int i, r = 0;

	for (i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
				strerror(errno));
			r = 1;
		} else if (S_ISDIR(st.st_mode)) {
			if (replay_dir(argv[i], &count) < 0)
				r = 1;
		} else if (replay_file(argv[i]) < 0) {
			r = 1;
		} else {
			count++;
		}
	}
	printf("replayed %ld inputs\n", count);
	return r;
}
