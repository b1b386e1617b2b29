/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz target: the SMTP DATA encoder and the BDAT chunker (msg_enc_* and
 * msg_bdat_* in src/msg.c).
 *
 * Input: the cut sizes (cut.h) for feeding the encoder, one byte for the
 * BDAT chunk size, then the message.  Invariants: the encoding does not
 * depend on how the input was cut; no bare CR or LF reaches the wire and
 * every line ends in CRLF; the DATA encoding ends with CRLF "." CRLF and
 * no line before that is a lone "."; removing the dot-stuffing and the
 * final dot gives the input with its line ends normalised (CR, LF and
 * CRLF each become CRLF, and a last line without one gets it), which is
 * exactly the plain encoding; BDAT hands out exactly the plain encoding
 * of the message, msg_wire_size() bytes in chunks of the size asked,
 * only the last one marked last and none empty unless the message is;
 * msg_is_8bit() and msg_has_nul() say whether it holds such bytes.
 */
#include "config.h"
#include "fuzzkit.h"
#include "cut.h"

#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "msg.h"

#define FENC_MAX (4 * 1024 * 1024)

static void fenc_encode(const char *p, size_t n, int plain,
			struct fuzz_cuts *cuts, struct buf *out)
{
	struct msg_enc enc;
	size_t off = 0;

	if (plain)
		msg_enc_init_plain(&enc);
	else
		msg_enc_init(&enc);
	while (off < n) {
		size_t k = fuzz_cuts_next(cuts, n - off);

		FUZZ_CHECK(msg_enc_feed(&enc, p + off, k, out) == 0);
		off += k;
	}
	FUZZ_CHECK(msg_enc_finish(&enc, out) == 0);
}

/* The input with CR, LF and CRLF as CRLF and a final CRLF added. */
static void fenc_normalise(const char *p, size_t n, struct buf *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\r' || p[i] == '\n') {
			if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n')
				i++;
			buf_append(out, "\r\n", 2);
		} else {
			buf_append_byte(out, p[i]);
		}
	}
	if (out->len > 0 && !(out->len >= 2 && out->data[out->len - 1] == '\n'
			      && out->data[out->len - 2] == '\r'))
		buf_append(out, "\r\n", 2);
}

/* Every CR is followed by LF and every LF preceded by CR. */
static void fenc_check_crlf(const struct buf *b)
{
	size_t i;

	for (i = 0; i < b->len; i++) {
		if (b->data[i] == '\r')
			FUZZ_CHECK(i + 1 < b->len && b->data[i + 1] == '\n');
		if (b->data[i] == '\n')
			FUZZ_CHECK(i > 0 && b->data[i - 1] == '\r');
	}
	FUZZ_CHECK(b->len == 0 || (b->len >= 2 && b->data[b->len - 1] == '\n'));
}

/* Undo the stuffing: drop the final ".\r\n" and one leading dot of each
 * line that has one. */
static void fenc_unstuff(const struct buf *w, struct buf *out)
{
	size_t i = 0, end;

	FUZZ_CHECK(w->len >= 3);
	end = w->len - 3;
	FUZZ_CHECK(memcmp(w->data + end, ".\r\n", 3) == 0);
	FUZZ_CHECK(end == 0 || (end >= 2 && w->data[end - 2] == '\r'
				&& w->data[end - 1] == '\n'));
	while (i < end) {
		const char *nl = memchr(w->data + i, '\n', end - i);
		size_t len = (size_t)(nl - (w->data + i)) + 1;

		FUZZ_CHECK(nl != NULL);
		/* a lone "." line would end the data early */
		FUZZ_CHECK(!(len == 3 && w->data[i] == '.'));
		if (w->data[i] == '.')
			buf_append(out, w->data + i + 1, len - 1);
		else
			buf_append(out, w->data + i, len);
		i += len;
	}
}

static void fenc_same(const struct buf *a, const struct buf *b)
{
	FUZZ_CHECK(a->len == b->len);
	FUZZ_CHECK(a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static int fenc_any_8bit(const struct buf *b)
{
	size_t i;

	for (i = 0; i < b->len; i++)
		if ((unsigned char)b->data[i] >= 0x80)
			return 1;
	return 0;
}

/* BDAT: the message read in place, cut into chunks of `chunk` bytes. */
static void fenc_bdat(const char *p, size_t n, size_t chunk,
		      const struct buf *plain)
{
	struct msg_read_opts ro;
	struct msg_bdat b;
	struct msg *m = NULL;
	struct buf got;
	struct err e;
	char dst[256];
	int fd = fuzz_memfd(p, n), last = 0;
	size_t chunks = 0;

	if (fd < 0)
		return;
	memset(&ro, 0, sizeof ro);
	ro.tmpdir = fuzz_scratch_dir();
	err_init(&e);
	if (msg_read(fd, &ro, &m, &e) < 0
	    || msg_rewrite(m, &(struct msg_rewrite){ 0 }, &e) < 0) {
		msg_free(m);
		close(fd);
		return;         /* a header section too large: not ours here */
	}
	buf_init(&got, FENC_MAX);
	FUZZ_CHECK(msg_bdat_start(&b, m, &e) == 0);
	while (!last) {
		ssize_t k = msg_bdat_read(&b, dst, chunk, &last, &e);

		FUZZ_CHECK(k >= 0 && (size_t)k <= chunk);
		FUZZ_CHECK((size_t)k == chunk || last);
		FUZZ_CHECK(k > 0 || (last && chunks == 0));
		buf_append(&got, dst, (size_t)k);
		chunks++;
	}
	/* msg_read may add the separator the rewrite needs: compare with
	 * the plain encoding of the stream, and the stream with the input
	 * when they are the same length */
	FUZZ_CHECK(got.len == msg_wire_size(m));
	/* the facts that choose BODY=8BITMIME and refuse NULs */
	FUZZ_CHECK(msg_is_8bit(m) == fenc_any_8bit(&got));
	FUZZ_CHECK(msg_has_nul(m) == (got.len > 0
				      && memchr(got.data, 0, got.len) != NULL));
	if (got.len == plain->len)
		fenc_same(&got, plain);
	msg_bdat_free(&b);
	buf_free(&got);
	msg_free(m);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_cuts whole = { { 0 }, 0, 0 }, cuts;
	struct buf w, c, plain, un, norm;
	struct fuzz_in in;
	size_t chunk;

	fuzz_in_init(&in, data, size);
	fuzz_cuts_take(&cuts, &in);
	chunk = 1 + fuzz_byte(&in);
	buf_init(&w, FENC_MAX);
	buf_init(&c, FENC_MAX);
	buf_init(&plain, FENC_MAX);
	buf_init(&un, FENC_MAX);
	buf_init(&norm, FENC_MAX);
	fenc_encode((const char *)in.p, in.n, 0, &whole, &w);
	fenc_encode((const char *)in.p, in.n, 0, &cuts, &c);
	fenc_same(&w, &c);
	fenc_check_crlf(&w);
	fenc_unstuff(&w, &un);
	fenc_normalise((const char *)in.p, in.n, &norm);
	fenc_same(&un, &norm);
	cuts.next = 0;
	fenc_encode((const char *)in.p, in.n, 1, &cuts, &plain);
	fenc_check_crlf(&plain);
	fenc_same(&plain, &norm);
	fenc_bdat((const char *)in.p, in.n, chunk, &plain);
	buf_free(&w);
	buf_free(&c);
	buf_free(&plain);
	buf_free(&un);
	buf_free(&norm);
	return 0;
}
