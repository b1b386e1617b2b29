/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * fuzzkit - what every fuzz target shares: the libFuzzer entry point's
 * prototype, a cursor that splits one input into the choices a target
 * makes (flags, cut points, lengths) and its payload, invariant checks
 * that abort (so a broken invariant is a crash libFuzzer keeps), and
 * private scratch space (a memfd, a directory of our own under /dev/shm
 * or $TMPDIR) for the parsers that only read files by name.
 *
 * Targets link either with libFuzzer (-fsanitize=fuzzer, `make fuzz`) or
 * with replay.c (`make check`, any compiler); both call
 * LLVMFuzzerTestOneInput once per input.  Targets never open the network,
 * never run programs and never write outside fuzz_scratch_dir().
 */
#ifndef MSMTP_FUZZKIT_H
#define MSMTP_FUZZKIT_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message naming the broken invariant (file:line). */
#define FUZZ_CHECK(cond) \
	((cond) ? (void)0 : fuzz_fail(#cond, __FILE__, __LINE__))
void fuzz_fail(const char *what, const char *file, int line)
	__attribute__((noreturn));

/* The input, consumed from the front for choices. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

void fuzz_in_init(struct fuzz_in *in, const uint8_t *data, size_t size);
/* One byte (0 when the input is used up). */
unsigned fuzz_byte(struct fuzz_in *in);
/* A number in 0..max (max < 65536) from one or two bytes. */
size_t fuzz_range(struct fuzz_in *in, size_t max);
/* Take everything up to the next `sep` byte (or the end) as a NUL-
 * terminated malloc'd string; NULL only when out of memory. */
char *fuzz_take_until(struct fuzz_in *in, unsigned char sep, size_t *len);

/* A sealed-size anonymous file holding data, positioned at 0; -1 on
 * failure.  fuzz_fd_path gives "/proc/self/fd/N" for parsers that want
 * a path. */
int fuzz_memfd(const void *data, size_t n);
void fuzz_fd_path(int fd, char *out, size_t outlen);

/* A private directory (0700) made once per process and removed at exit:
 * under /dev/shm when it exists (no disk syncs), else $TMPDIR or /tmp. */
const char *fuzz_scratch_dir(void);

#endif
