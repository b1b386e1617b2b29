/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz target: the message reader and header rewriter (src/msg.c): the
 * header section scan, -t recipients, --read-envelope-from, msg_rewrite
 * and the output stream, on a message read from a pipe or in place from
 * a (memory) file.
 *
 * Input: a flag byte (how to read, which fields to generate or remove),
 * then the message.  Invariants: without rewriting, the stream is the
 * input (plus at most the one separator the reader adds); recipients are
 * addr-specs without CR, LF or NUL; the size, 8-bit and NUL facts match
 * the stream; the rewritten message read back has no Bcc when Bcc is
 * removed, the envelope sender in From when From is replaced, exactly
 * the given recipients when To is set, and streams back unchanged.
 */
#include "config.h"
#include "fuzzkit.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "msg.h"

#define FMSG_OUT_MAX (4 * 1024 * 1024)

/* Does the text contain "resent-" in any case (a Resent- block changes
 * which fields -t and --read-envelope-from use)? */
static int fmsg_mentions_resent(const char *p, size_t n)
{
	static const char w[] = "resent-";
	size_t i, k;

	for (i = 0; i + 7 <= n; i++) {
		for (k = 0; k < 7 && (p[i + k] | 0x20) == w[k]; k++)
			;
		if (k == 7)
			return 1;
	}
	return 0;
}

/* The message in `data` read through a pipe (pipe = 1) or a memfd. */
static struct msg *fmsg_read(const char *data, size_t n, int pipe_in,
			     int dots)
{
	struct msg_read_opts ro;
	struct msg *m = NULL;
	struct err e;
	int fd, p[2];

	memset(&ro, 0, sizeof ro);
	ro.dot_ends_input = dots;
	ro.tmpdir = fuzz_scratch_dir();
	if (pipe_in && n < 65536) {
		if (pipe(p) < 0)
			return NULL;
		FUZZ_CHECK(msg_write_all(p[1], data, n) == 0);
		close(p[1]);
		fd = p[0];
	} else {
		fd = fuzz_memfd(data, n);
		if (fd < 0)
			return NULL;
	}
	err_init(&e);
	if (msg_read(fd, &ro, &m, &e) < 0) {
		FUZZ_CHECK(e.code == ERR_DATAERR || e.code == ERR_OSERR
			   || e.code == ERR_IOERR);
		m = NULL;
	}
	close(fd);
	return m;
}

/* The whole output stream into b. */
static void fmsg_stream(struct msg *m, struct buf *b)
{
	char chunk[4096];
	struct err e;
	ssize_t k;

	err_init(&e);
	FUZZ_CHECK(msg_stream_rewind(m, &e) == 0);
	while ((k = msg_stream_read(m, chunk, sizeof chunk, &e)) > 0)
		FUZZ_CHECK(buf_append(b, chunk, (size_t)k) == 0);
	FUZZ_CHECK(k == 0);
}

/* got is want, or want with the separator the rewrite adds after a
 * header section without one: one LF, or two when the last line ended
 * in a bare CR (the first makes it CRLF). */
static void fmsg_same_but_separator(const struct buf *got, const char *want,
				    size_t n)
{
	size_t i, add;

	if (got->len == n) {
		FUZZ_CHECK(memcmp(got->data ? got->data : "", want, n) == 0);
		return;
	}
	add = got->len - n;
	FUZZ_CHECK(got->len > n && add <= 2);
	for (i = 0; i < n && got->data[i] == want[i]; i++)
		;
	FUZZ_CHECK(got->data[i] == '\n');
	if (add == 2)
		FUZZ_CHECK(i > 0 && want[i - 1] == '\r' && got->data[i + 1] == '\n');
	FUZZ_CHECK(memcmp(got->data + i + add, want + i, n - i) == 0);
}

/* Size, 8-bit and NUL facts agree with the bytes. */
static void fmsg_check_facts(struct msg *m, const struct buf *s)
{
	struct msg_enc enc;
	struct buf plain;
	size_t i;
	int hi = 0, nul = 0;

	for (i = 0; i < s->len; i++) {
		hi |= (unsigned char)s->data[i] >= 0x80;
		nul |= s->data[i] == '\0';
	}
	FUZZ_CHECK(msg_is_8bit(m) == hi);
	FUZZ_CHECK(msg_has_nul(m) == nul);
	buf_init(&plain, FMSG_OUT_MAX);
	msg_enc_init_plain(&enc);
	FUZZ_CHECK(msg_enc_feed(&enc, s->data ? s->data : "", s->len, &plain) == 0);
	FUZZ_CHECK(msg_enc_finish(&enc, &plain) == 0);
	FUZZ_CHECK(msg_wire_size(m) == plain.len);
	buf_free(&plain);
}

static void fmsg_check_addrs(const struct addr_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		FUZZ_CHECK(!addr_has_crlfnul(l->v[i], strlen(l->v[i])));
		FUZZ_CHECK(strlen(l->v[i]) <= ADDR_MAX_LEN);
	}
}

/* What the rewritten message says when it is read back. */
static void fmsg_check_rewritten(const struct buf *out,
				 const struct msg_rewrite *rw, int resent)
{
	struct msg *m2 = fmsg_read(out->data ? out->data : "", out->len, 0, 0);
	struct addr_list l;
	struct buf again;
	struct err e;
	char *from = NULL;
	size_t i;

	if (m2 == NULL)
		return;         /* the header section grew too large */
	err_init(&e);
	buf_init(&again, FMSG_OUT_MAX);
	if (msg_rewrite(m2, &(struct msg_rewrite){ 0 }, &e) == 0) {
		fmsg_stream(m2, &again);
		fmsg_same_but_separator(&again, out->data ? out->data : "",
					out->len);
	}
	if (rw->remove_bcc_headers || rw->set_to_header)
		FUZZ_CHECK(!msg_has_header(m2, "Bcc"));
	if (rw->remove_bcc_headers)
		FUZZ_CHECK(!msg_has_header(m2, "Resent-Bcc"));
	if (rw->set_from_header == 1 && !resent) {
		err_init(&e);
		FUZZ_CHECK(msg_header_envelope_from(m2, &from, &e) == 0);
		FUZZ_CHECK(from != NULL && strcmp(from, rw->from_addr) == 0);
	}
	if (rw->set_to_header == 1 && !resent && rw->rcpts->n > 0) {
		addr_list_init(&l);
		err_init(&e);
		FUZZ_CHECK(msg_header_recipients(m2, &l, &e) == 0);
		FUZZ_CHECK(l.n == rw->rcpts->n);
		for (i = 0; i < l.n; i++)
			FUZZ_CHECK(addr_list_contains(rw->rcpts, l.v[i]));
		addr_list_free(&l);
	}
	free(from);
	buf_free(&again);
	msg_free(m2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {
		NULL, "", "Joe Q. Public", "J\xc3\xb6rg \"the\" M\xc3\xbcller"
	};
	struct fuzz_in in;
	struct msg *m;
	struct msg_rewrite rw;
	struct addr_list rcpts;
	struct buf s;
	struct err e;
	char *from = NULL;
	unsigned f, g;
	int resent;

	fuzz_in_init(&in, data, size);
	f = fuzz_byte(&in);
	g = fuzz_byte(&in);
	m = fmsg_read((const char *)in.p, in.n, f & 1, (f >> 1) & 1);
	if (m == NULL)
		return 0;
	addr_list_init(&rcpts);
	buf_init(&s, FMSG_OUT_MAX);
	err_init(&e);
	if (msg_header_recipients(m, &rcpts, &e) == 0)
		fmsg_check_addrs(&rcpts);
	else
		FUZZ_CHECK(e.code == ERR_DATAERR || e.code == ERR_OSERR);
	err_init(&e);
	if (msg_header_envelope_from(m, &from, &e) == 0 && from != NULL)
		FUZZ_CHECK(!addr_has_crlfnul(from, strlen(from)));
	free(from);
	resent = fmsg_mentions_resent((const char *)in.p, in.n);
	/* no rewriting: the stream is the input */
	err_init(&e);
	memset(&rw, 0, sizeof rw);
	FUZZ_CHECK(msg_rewrite(m, &rw, &e) == 0);
	fmsg_stream(m, &s);
	if (!((f >> 1) & 1))
		fmsg_same_but_separator(&s, (const char *)in.p, in.n);
	fmsg_check_facts(m, &s);
	/* rewriting as the flags say */
	if (rcpts.n == 0)
		addr_list_add_unique(&rcpts, "fallback@example.org", &e);
	rw.set_from_header = (f >> 2) % 3;
	rw.from_addr = (g & 1) ? "sender@example.org" : "\xc3\xa9@example.org";
	rw.full_name = names[(g >> 1) & 3];
	rw.set_date_header = (f >> 4) & 1 ? 2 : 0;
	rw.set_msgid_header = (f >> 5) & 1 ? 2 : 0;
	rw.msgid_domain = "example.org";
	rw.set_to_header = (g >> 3) % 3;
	rw.rcpts = &rcpts;
	rw.remove_bcc_headers = (f >> 6) & 1;
	err_init(&e);
	buf_reset(&s);
	if (msg_rewrite(m, &rw, &e) == 0) {
		fmsg_stream(m, &s);
		fmsg_check_facts(m, &s);
		fmsg_check_rewritten(&s, &rw, resent);
	} else {
		FUZZ_CHECK(e.code == ERR_DATAERR || e.code == ERR_OSERR);
	}
	buf_free(&s);
	addr_list_free(&rcpts);
	msg_free(m);
	return 0;
}
