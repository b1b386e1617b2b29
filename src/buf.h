/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * buf - a growable byte buffer with a hard ceiling.
 *
 * The only home of realloc for protocol and header text.  Every buffer has a
 * maximum size fixed at init; appends beyond it fail (-1, errno E2BIG) rather
 * than grow without bound.  Contents are always NUL-terminated (the NUL is
 * not counted in len) so text can be handed to C string functions, but the
 * data may itself contain NULs: use len.  buf_free() wipes before freeing,
 * so a buffer that held a secret leaves nothing behind.
 */
#ifndef MSMTP_BUF_H
#define MSMTP_BUF_H

#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>

struct buf {
	char *data;     /* NULL until the first append */
	size_t len;     /* bytes used, excluding the trailing NUL */
	size_t cap;     /* bytes allocated */
	size_t max;     /* hard ceiling on len */
};

void buf_init(struct buf *b, size_t max);
/* 0 on success; -1 with errno ENOMEM or E2BIG (ceiling reached). */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
/* Make room for n more bytes (fewer when the ceiling is nearer) without
 * writing them: then data[len..cap-1) may be filled, len advanced and the
 * NUL put back.  0, or -1 with errno ENOMEM. */
int buf_room(struct buf *b, size_t n);
int buf_append_byte(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Cut the contents back to their first len bytes (no-op when shorter):
 * undoes appends that must not stay half done. */
void buf_truncate(struct buf *b, size_t len);
/* Drop the first n bytes, moving the rest to the front. */
void buf_consume(struct buf *b, size_t n);
/* Empty the buffer (wiping the old contents), keeping the allocation. */
void buf_reset(struct buf *b);
/* Wipe and release; the buffer may be reused after buf_init. */
void buf_free(struct buf *b);
/* Return the text, never NULL (an empty string for an unused buffer). */
const char *buf_str(const struct buf *b);
/* Detach the data as a malloc'd NUL-terminated string (NULL on ENOMEM). */
char *buf_steal(struct buf *b);

/* Longest piece of a user's word quoted back in an error message. */
#define BUF_SHOW_MAX 64
/* Room for BUF_SHOW_MAX bytes shown as "\xHH", "..." and the NUL. */
#define BUF_SHOW_SIZE (BUF_SHOW_MAX * 4 + 8)

/* Quote s[0..n) in a one-line error message: at most BUF_SHOW_MAX bytes
 * (cut before a partial UTF-8 sequence, "..." added when cut), control
 * bytes as "\xHH", so a hostile word can neither break the line nor send
 * escape sequences to the terminal.  Writes at most outlen bytes with the
 * NUL (BUF_SHOW_SIZE is always enough) and returns out. */
const char *buf_show(char *out, size_t outlen, const char *s, size_t n);
/* Append s[0..n) whole with control bytes as "\xHH" (text read back from
 * disk or a server, shown in a listing). */
int buf_append_shown(struct buf *b, const char *s, size_t n);
/* The same straight to a stream: needs no memory, so a listing never
 * loses a field for want of it. */
void buf_fput_shown(FILE *f, const char *s, size_t n);

/* 1 if `word` is one of the space-separated words of `list`. */
int buf_has_word(const char *list, const char *word);

/* Wipe memory in a way the compiler cannot drop. */
void buf_wipe(void *p, size_t n);

#endif
