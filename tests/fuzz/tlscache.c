/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz target: the TLS session cache file (src/tlscache.c): reading a
 * file with any content, and saving what was read.
 *
 * Input: the file (written 0600 in the scratch directory).  The key is
 * FTLS_KEY and the time FTLS_NOW (the corpus holds files made for them).
 * Invariants: the reader answers a known status; tlscache_parse on the
 * same bytes agrees (when the size is within the reader's bounds); an
 * accepted file's data is its bytes after the header, never empty nor
 * above the limit, for the key and not expired; it saves and loads back
 * equal; a refusal gives no data.
 */
#include "config.h"
#include "fuzzkit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msg.h"
#include "tlscache.h"

#define FTLS_KEY "0123456789abcdef0123456789abcdef"
#define FTLS_NOW ((time_t)1800000000)

static void ftls_check_ok(const uint8_t *data, size_t size,
			  const unsigned char *got, size_t len)
{
	FUZZ_CHECK(len > 0 && len <= TLSCACHE_DATA_MAX);
	FUZZ_CHECK(len == size - TLSCACHE_HEADER_LEN);
	FUZZ_CHECK(memcmp(got, data + TLSCACHE_HEADER_LEN, len) == 0);
	FUZZ_CHECK(memcmp(data + TLSCACHE_MAGIC_LEN + 8, FTLS_KEY,
			  TLSCACHE_KEY_LEN) == 0);
}

/* What was accepted saves, and reads back the same. */
static void ftls_round_trip(const char *path, const unsigned char *got,
			    size_t len)
{
	const unsigned char *key = (const unsigned char *)FTLS_KEY;
	unsigned char *back = NULL;
	size_t blen = 0;

	FUZZ_CHECK(tlscache_save(path, key, FTLS_NOW + 60, got, len) == 0);
	FUZZ_CHECK(tlscache_load(path, key, FTLS_NOW, &back, &blen, NULL)
		   == TLSCACHE_OK);
	FUZZ_CHECK(blen == len && memcmp(back, got, len) == 0);
	free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *key = (const unsigned char *)FTLS_KEY;
	const unsigned char *pd = NULL;
	unsigned char *got = NULL;
	enum tlscache_status st, ps;
	size_t len = 0, plen = 0;
	char path[512];
	int fd;

	snprintf(path, sizeof path, "%s/tls-session", fuzz_scratch_dir());
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(msg_write_all(fd, data, size) == 0);
	close(fd);
	st = tlscache_load(path, key, FTLS_NOW, &got, &len, NULL);
	FUZZ_CHECK(st >= TLSCACHE_OK && st <= TLSCACHE_ERROR);
	FUZZ_CHECK(st != TLSCACHE_MISSING && st != TLSCACHE_UNSAFE
		   && st != TLSCACHE_ERROR && st != TLSCACHE_BUSY);
	if (size >= TLSCACHE_HEADER_LEN
	    && size <= TLSCACHE_HEADER_LEN + TLSCACHE_DATA_MAX) {
		ps = tlscache_parse(data, size, key, FTLS_NOW, &pd, &plen, NULL);
		FUZZ_CHECK(ps == st);
	} else {
		FUZZ_CHECK(st == TLSCACHE_SIZE);
	}
	if (st != TLSCACHE_OK) {
		FUZZ_CHECK(got == NULL && len == 0);
		return 0;
	}
	FUZZ_CHECK(plen == len && memcmp(pd, got, len) == 0);
	ftls_check_ok(data, size, got, len);
	ftls_round_trip(path, got, len);
	free(got);
	return 0;
}
