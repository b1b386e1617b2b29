/* SPDX-License-Identifier: GPL-3.0-or-later */
#define _GNU_SOURCE 1
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "msg.h"

/* ------------------------------------------------------------ helpers */

/* Byte-at-a-time reference for the DATA encoding: obviously right, slow.
 * stuff=0 and final=0 give the normalised message for the wire size. */
static char *ref_encode(const char *in, size_t n, int stuff, int final,
			size_t *outlen)
{
	char *o = malloc(3 * n + 8);
	size_t i, k = 0;
	int ls = 1;

	assert_non_null(o);
	for (i = 0; i < n; i++) {
		char c = in[i];

		if (ls && c == '.' && stuff)
			o[k++] = '.';
		ls = 0;
		if (c == '\n' || c == '\r') {
			if (c == '\r' && i + 1 < n && in[i + 1] == '\n')
				i++;
			o[k++] = '\r';
			o[k++] = '\n';
			ls = 1;
		} else {
			o[k++] = c;
		}
	}
	if (n > 0 && !ls) {
		o[k++] = '\r';
		o[k++] = '\n';
	}
	if (final) {
		memcpy(o + k, ".\r\n", 3);
		k += 3;
	}
	*outlen = k;
	return o;
}

/* Encode in pieces cut at the given offsets (ascending). */
static void encode_cuts(const char *in, size_t n, const size_t *cuts,
			size_t ncuts, struct buf *out)
{
	struct msg_enc enc;
	size_t prev = 0, i;

	msg_enc_init(&enc);
	for (i = 0; i <= ncuts; i++) {
		size_t at = i < ncuts ? cuts[i] : n;

		assert_int_equal(msg_enc_feed(&enc, in + prev, at - prev, out), 0);
		prev = at;
	}
	assert_int_equal(msg_enc_finish(&enc, out), 0);
}

static void assert_mem(const char *got, size_t gotlen, const char *want,
		       size_t wantlen)
{
	if (gotlen != wantlen || memcmp(got, want, wantlen) != 0) {
		print_error("want [%.*s] (%zu)\n got [%.*s] (%zu)\n",
			    (int)wantlen, want, wantlen, (int)gotlen, got,
			    gotlen);
		fail();
	}
}

/* Whole outgoing message as one malloc'd block. */
static char *stream_all(struct msg *m, size_t *len)
{
	struct err e;
	size_t cap = 4096, n = 0;
	char *o = malloc(cap);
	ssize_t r;

	err_init(&e);
	assert_non_null(o);
	assert_int_equal(msg_stream_rewind(m, &e), 0);
	for (;;) {
		if (cap - n < 1000) {
			cap *= 2;
			o = realloc(o, cap);
			assert_non_null(o);
		}
		r = msg_stream_read(m, o + n, 1000, &e);
		assert_true(r >= 0);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return o;
}

static void assert_stream(struct msg *m, const char *want, size_t wantlen)
{
	size_t len;
	char *got = stream_all(m, &len);

	assert_mem(got, len, want, wantlen);
	free(got);
}

/* Wire size reference of what the stream gives now. */
static uint64_t ref_wire_size(struct msg *m)
{
	size_t len, wl;
	char *s = stream_all(m, &len);
	char *w = ref_encode(s, len, 0, 0, &wl);

	free(s);
	free(w);
	return wl;
}

/* Read `in` through a SOCK_SEQPACKET socket pair: every write is one
 * record and every read returns at most one, so each cut is a read
 * boundary that msg_read must handle. */
static int read_cuts(const char *in, size_t n, const size_t *cuts,
		     size_t ncuts, const struct msg_read_opts *ro,
		     struct msg **m, struct err *e)
{
	int sv[2], r;
	size_t prev = 0, i;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	for (i = 0; i <= ncuts; i++) {
		size_t at = i < ncuts ? cuts[i] : n;

		if (at > prev)
			assert_int_equal(write(sv[1], in + prev, at - prev),
					 (ssize_t)(at - prev));
		prev = at;
	}
	close(sv[1]);
	r = msg_read(sv[0], ro, m, e);
	close(sv[0]);
	return r;
}

/* Read `in` from a pipe fed by a child in `piece`-byte writes; the
 * child's exit status (0: every byte was written) goes to *status. */
static int read_child(const char *in, size_t n, size_t piece,
		      const struct msg_read_opts *ro, struct msg **m,
		      struct err *e, int *status)
{
	int pfd[2], r, st;
	pid_t pid;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		size_t off = 0;

		signal(SIGPIPE, SIG_IGN);
		close(pfd[0]);
		while (off < n) {
			size_t k = n - off < piece ? n - off : piece;
			ssize_t w = write(pfd[1], in + off, k);

			if (w <= 0)
				_exit(1);
			off += (size_t)w;
		}
		_exit(0);
	}
	close(pfd[1]);
	r = msg_read(pfd[0], ro, m, e);
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (status != NULL)
		*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
	return r;
}

static struct msg *read_ok(const char *in, size_t n,
			   const struct msg_read_opts *ro)
{
	struct msg *m = NULL;
	struct err e;

	err_init(&e);
	if (read_cuts(in, n, NULL, 0, ro, &m, &e) != 0) {
		print_error("msg_read: %s\n", e.msg);
		fail();
	}
	return m;
}

/* A mkstemp/mkdtemp template in $TMPDIR (else /tmp): no fixed paths. */
static void test_msg_template(char *out, size_t size, const char *name)
{
	const char *dir = getenv("TMPDIR");

	assert_true((size_t)snprintf(out, size, "%s/%s.XXXXXX",
				     dir && *dir == '/' ? dir : "/tmp",
				     name) < size);
}

/* A file holding prefix+in, positioned after prefix. */
static int file_with(const char *prefix, const char *in, size_t n)
{
	char path[4096];
	int fd;

	test_msg_template(path, sizeof path, "test_msg");
	fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, prefix, strlen(prefix)),
			 (ssize_t)strlen(prefix));
	assert_int_equal(write(fd, in, n), (ssize_t)n);
	assert_int_equal(lseek(fd, (off_t)strlen(prefix), SEEK_SET),
			 (off_t)strlen(prefix));
	return fd;
}

static void assert_regex(const char *s, const char *re)
{
	regex_t rx;

	assert_int_equal(regcomp(&rx, re, REG_EXTENDED | REG_NEWLINE), 0);
	if (regexec(&rx, s, 0, NULL, 0) != 0) {
		print_error("[%s] does not match /%s/\n", s, re);
		fail();
	}
	regfree(&rx);
}

#define S(x) x, sizeof(x) - 1

/* ------------------------------------------------------------ encoder */

struct enc_case {
	const char *in;
	size_t inlen;
	const char *out;
	size_t outlen;
};

static const struct enc_case enc_cases[] = {
	{ S(""), S(".\r\n") },
	{ S("a"), S("a\r\n.\r\n") },
	{ S("a\n"), S("a\r\n.\r\n") },
	{ S("a\r\n"), S("a\r\n.\r\n") },
	{ S("a\r"), S("a\r\n.\r\n") },
	{ S("a\rb"), S("a\r\nb\r\n.\r\n") },
	{ S("a\r\r\n"), S("a\r\n\r\n.\r\n") },
	{ S("\n"), S("\r\n.\r\n") },
	{ S("\r"), S("\r\n.\r\n") },
	{ S("\n\r"), S("\r\n\r\n.\r\n") },
	{ S("\r\r"), S("\r\n\r\n.\r\n") },
	{ S("\r\n\r\n"), S("\r\n\r\n.\r\n") },
	{ S("."), S("..\r\n.\r\n") },
	{ S(".\n"), S("..\r\n.\r\n") },
	{ S(".."), S("...\r\n.\r\n") },
	{ S(".x\n"), S("..x\r\n.\r\n") },
	{ S(" .\n"), S(" .\r\n.\r\n") },
	{ S("a.b\n.\n"), S("a.b\r\n..\r\n.\r\n") },
	{ S("a\n.b\r\n.\r.\n"), S("a\r\n..b\r\n..\r\n..\r\n.\r\n") },
	{ S("x\r.y"), S("x\r\n..y\r\n.\r\n") },
	{ S("x\r\n.\r\n"), S("x\r\n..\r\n.\r\n") },
	{ S("a\0b\n\0"), S("a\0b\r\n\0\r\n.\r\n") },
	{ S("\xc3\xa9\n.\xff"), S("\xc3\xa9\r\n..\xff\r\n.\r\n") },
	{ S("line1\nline2\r\nline3\rline4"),
	  S("line1\r\nline2\r\nline3\r\nline4\r\n.\r\n") },
};

static void check_enc_case(const struct enc_case *c)
{
	struct buf out;
	size_t i, j, cuts[2];

	buf_init(&out, 1 << 20);
	encode_cuts(c->in, c->inlen, NULL, 0, &out);
	assert_mem(out.data, out.len, c->out, c->outlen);
	/* One cut at every position, two cuts at every pair. */
	for (i = 0; i <= c->inlen; i++) {
		for (j = i; j <= c->inlen; j++) {
			cuts[0] = i;
			cuts[1] = j;
			buf_reset(&out);
			encode_cuts(c->in, c->inlen, cuts, 2, &out);
			assert_mem(out.data, out.len, c->out, c->outlen);
		}
	}
	/* Byte by byte. */
	{
		size_t all[64];

		assert_true(c->inlen < 64);
		for (i = 0; i < c->inlen; i++)
			all[i] = i;
		buf_reset(&out);
		encode_cuts(c->in, c->inlen, all, c->inlen, &out);
		assert_mem(out.data, out.len, c->out, c->outlen);
	}
	buf_free(&out);
}

static void test_enc_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof enc_cases / sizeof enc_cases[0]; i++)
		check_enc_case(&enc_cases[i]);
}

/* Random inputs from the bytes that matter, random cuts, against the
 * reference encoder. */
static void test_enc_random(void **state)
{
	static const char alpha[] = { 'a', '.', '\r', '\n', '\0', ' ' };
	char in[200];
	size_t cuts[8], i, k, n, reflen;
	struct buf out;
	unsigned seed = 12345;
	char *ref;

	(void)state;
	buf_init(&out, 1 << 20);
	for (i = 0; i < 6000; i++) {
		n = (size_t)(rand_r(&seed) % sizeof in);
		for (k = 0; k < n; k++)
			in[k] = alpha[rand_r(&seed) % sizeof alpha];
		for (k = 0; k < 8; k++)
			cuts[k] = n ? (size_t)(rand_r(&seed) % (n + 1)) : 0;
		/* sort the cuts */
		for (k = 1; k < 8; k++) {
			size_t v = cuts[k], j = k;

			while (j > 0 && cuts[j - 1] > v) {
				cuts[j] = cuts[j - 1];
				j--;
			}
			cuts[j] = v;
		}
		ref = ref_encode(in, n, 1, 1, &reflen);
		buf_reset(&out);
		encode_cuts(in, n, cuts, 8, &out);
		assert_mem(out.data, out.len, ref, reflen);
		free(ref);
	}
	buf_free(&out);
}

/* A big input goes through in large runs and matches the reference. */
static void test_enc_large(void **state)
{
	size_t n = 3 * 1024 * 1024, i, reflen;
	char *in = malloc(n), *ref;
	struct buf out;

	(void)state;
	assert_non_null(in);
	for (i = 0; i < n; i++)
		in[i] = (i % 71 == 70) ? '\n' : (i % 71 == 0 ? '.' : 'x');
	in[1000] = '\r';
	ref = ref_encode(in, n, 1, 1, &reflen);
	buf_init(&out, 2 * n);
	{
		size_t cuts[] = { 1001, 65536, 65537, 2 * 1024 * 1024 };

		encode_cuts(in, n, cuts, 4, &out);
	}
	assert_mem(out.data, out.len, ref, reflen);
	buf_free(&out);
	free(ref);
	free(in);
}

/* CRLF input goes through in spans; CRs and LFs on the block edges,
 * bare CRs and leading dots still come out as the reference says. */
static void test_enc_large_crlf(void **state)
{
	size_t n = 1024 * 1024 + 333, i, reflen;
	char *in = malloc(n), *ref;
	struct buf out;
	size_t cuts[] = { 65535, 65536, 262143, 262145, 524288, 524289 };

	(void)state;
	assert_non_null(in);
	for (i = 0; i < n; i++)
		in[i] = (i % 72 == 70) ? '\r' : (i % 72 == 71) ? '\n' : 'y';
	in[65535] = '\r';
	in[65536] = '\n';
	in[262144] = '\r';            /* bare CR in the middle of a block */
	in[524288] = '.';
	in[524287] = '\n';
	in[300000] = '\n';            /* a bare LF */
	ref = ref_encode(in, n, 1, 1, &reflen);
	buf_init(&out, 2 * n + 8);
	encode_cuts(in, n, cuts, sizeof cuts / sizeof cuts[0], &out);
	assert_mem(out.data, out.len, ref, reflen);
	buf_free(&out);
	free(ref);
	free(in);
}

/* A full output buffer fails without changing the buffer or the state. */
static void test_enc_cap(void **state)
{
	struct msg_enc enc, before;
	struct buf out;

	(void)state;
	buf_init(&out, 10);
	msg_enc_init(&enc);
	assert_int_equal(msg_enc_feed(&enc, "abc\r", 4, &out), 0);
	assert_int_equal(out.len, 3);
	before = enc;
	assert_int_equal(msg_enc_feed(&enc, "\n.defgh", 7, &out), -1);
	assert_int_equal(errno, E2BIG);
	assert_int_equal(out.len, 3);
	assert_string_equal(buf_str(&out), "abc");
	assert_memory_equal(&enc, &before, sizeof enc);
	/* Drain and retry: the same bytes now go through. */
	buf_reset(&out);
	assert_int_equal(msg_enc_feed(&enc, "\n.def", 5, &out), 0);
	assert_mem(out.data, out.len, S("\r\n..def"));
	buf_free(&out);
	buf_init(&out, 4);
	assert_int_equal(msg_enc_finish(&enc, &out), -1);
	assert_int_equal(out.len, 0);
	buf_free(&out);
	buf_init(&out, 5);
	assert_int_equal(msg_enc_finish(&enc, &out), 0);
	assert_mem(out.data, out.len, S("\r\n.\r\n"));
	buf_free(&out);
}

/* ---------------------------------------------------- reading, split */

struct split_case {
	const char *in;
	size_t inlen;
	const char *out;        /* after a rewrite that changes nothing */
	size_t outlen;
};

/* The no-op rewrite shows where the header section ended: a separator is
 * added between a header without one and a non-empty body. */
static const struct split_case split_cases[] = {
	{ S(""), S("") },
	{ S("Subject: x"), S("Subject: x") },
	{ S("Subject: x\n"), S("Subject: x\n") },
	{ S("Subject: x\n\nbody\n"), S("Subject: x\n\nbody\n") },
	{ S("Subject: x\nbody\n"), S("Subject: x\n\nbody\n") },
	{ S("Subject: x\n continued\n\tmore\nTo: a\n\nb"),
	  S("Subject: x\n continued\n\tmore\nTo: a\n\nb") },
	{ S("Subject: x\n continued\nbody"),
	  S("Subject: x\n continued\n\nbody") },
	{ S("a:b\r\nc: d\r\n\r\nbody\r\n"), S("a:b\r\nc: d\r\n\r\nbody\r\n") },
	{ S("a: b\r\nbody\r\n"), S("a: b\r\n\nbody\r\n") },
	{ S("From x y\nSubject: z\n"), S("From x y\nSubject: z\n") },
	{ S(" leading: x\n"), S(" leading: x\n") },
	{ S(":x\nA: b\n"), S(":x\nA: b\n") },
	{ S("Name With Space: x\n"), S("Name With Space: x\n") },
	{ S("A: 1\nName With Space: x\n"), S("A: 1\n\nName With Space: x\n") },
	{ S("A: 1\nSubject"), S("A: 1\n\nSubject") },
	{ S("A: 1\n\rbody"), S("A: 1\n\rbody") },
	{ S("A: 1\n\r\n"), S("A: 1\n\r\n") },
	/* A bare CR ends a line: the rest is body, the join keeps both ends. */
	{ S("X: y\rBody line\n"), S("X: y\r\n\nBody line\n") },
	{ S("X: y\rZ: w\n\nb"), S("X: y\rZ: w\n\nb") },
	{ S("A: 1\n.\n"), S("A: 1\n\n.\n") },
	{ S("A: \xc3\xa9\n\n\0"), S("A: \xc3\xa9\n\n\0") },
};

static void check_split_case(const struct split_case *c)
{
	struct msg_rewrite rw;
	struct msg *m;
	struct err e;
	size_t i, j, cuts[2];

	memset(&rw, 0, sizeof rw);
	for (i = 0; i <= c->inlen; i++) {
		for (j = i; j <= c->inlen; j++) {
			cuts[0] = i;
			cuts[1] = j;
			err_init(&e);
			m = NULL;
			assert_int_equal(read_cuts(c->in, c->inlen, cuts, 2, NULL,
						   &m, &e), 0);
			/* Unrewritten, the stream is the input itself. */
			assert_stream(m, c->in, c->inlen);
			assert_int_equal(msg_wire_size(m), ref_wire_size(m));
			assert_int_equal(msg_rewrite(m, &rw, &e), 0);
			assert_stream(m, c->out, c->outlen);
			assert_int_equal(msg_wire_size(m), ref_wire_size(m));
			msg_free(m);
		}
	}
}

static void test_header_split(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof split_cases / sizeof split_cases[0]; i++)
		check_split_case(&split_cases[i]);
}

/* A field name may have 998 characters; a longer "name" is body text. */
static void test_header_name_limit(void **state)
{
	char in[2100];
	struct msg *m;
	size_t n;

	(void)state;
	memset(in, 'N', 998);
	memcpy(in + 998, ": v\nDate: x\n", 12);
	m = read_ok(in, 1010, NULL);
	assert_int_equal(msg_has_header(m, "Date"), 1);
	msg_free(m);
	memset(in, 'N', 999);
	memcpy(in + 999, ": v\nDate: x\n", 12);
	m = read_ok(in, 1011, NULL);
	assert_int_equal(msg_has_header(m, "Date"), 0);
	assert_stream(m, in, 1011);
	msg_free(m);
	/* No line end at all, no colon: all body. */
	n = sizeof in;
	memset(in, 'b', n);
	m = read_ok(in, n, NULL);
	assert_stream(m, in, n);
	assert_int_equal(msg_wire_size(m), n + 2);
	msg_free(m);
}

static void test_empty_input(void **state)
{
	struct msg *m = read_ok("", 0, NULL);

	(void)state;
	assert_stream(m, "", 0);
	assert_int_equal(msg_wire_size(m), 0);
	assert_int_equal(msg_is_8bit(m), 0);
	assert_int_equal(msg_has_nul(m), 0);
	assert_int_equal(msg_has_header(m, "From"), 0);
	msg_free(m);
}

/* Headers of exactly `hdr` bytes (separator included) then "body\n". */
static char *make_big_header(size_t hdr, int with_body, size_t *len)
{
	char *s = malloc(hdr + 16);
	size_t pos = 0, left, line;

	assert_non_null(s);
	while ((left = hdr - 1 - pos) > 0) {
		/* lines of 4..1000 bytes: "X: " value LF */
		line = left > 1000 ? 1000 : left;
		if (left > 1000 && left - 1000 < 4)
			line = left - 4;
		assert_true(line >= 4);
		memcpy(s + pos, "X: ", 3);
		memset(s + pos + 3, 'v', line - 4);
		s[pos + line - 1] = '\n';
		pos += line;
	}
	s[pos++] = '\n';
	*len = pos;
	if (with_body) {
		memcpy(s + pos, "body\n", 5);
		*len += 5;
	}
	return s;
}

static void test_header_limit(void **state)
{
	struct msg *m;
	struct err e;
	size_t len, hlen, v;
	char *s;
	int st, fd, with_body;

	(void)state;
	for (with_body = 0; with_body < 2; with_body++) {
		for (v = 0; v < 2; v++) {
			s = make_big_header(MSG_HEADER_MAX + v, with_body, &len);
			hlen = len - (with_body ? 5 : 0);
			assert_int_equal(hlen, MSG_HEADER_MAX + v);
			/* From a pipe in odd pieces. */
			err_init(&e);
			m = NULL;
			if (v == 0) {
				assert_int_equal(read_child(s, len, 7777, NULL, &m,
							    &e, &st), 0);
				assert_int_equal(st, 0);
				assert_int_equal(msg_has_header(m, "X"), 1);
				assert_stream(m, s, len);
				msg_free(m);
			} else {
				assert_int_equal(read_child(s, len, 7777, NULL, &m,
							    &e, &st), -1);
				assert_int_equal(e.code, ERR_DATAERR);
				assert_string_equal(e.msg,
						    "header section is larger than 1048576 bytes");
				assert_null(m);
			}
			/* From a file. */
			err_init(&e);
			m = NULL;
			fd = file_with("", s, len);
			assert_int_equal(msg_read(fd, NULL, &m, &e), v ? -1 : 0);
			if (v == 0) {
				assert_stream(m, s, len);
				msg_free(m);
			} else {
				assert_int_equal(e.code, ERR_DATAERR);
			}
			close(fd);
			free(s);
		}
	}
}

/* One header line longer than the limit fails even without a line end. */
static void test_header_limit_one_line(void **state)
{
	size_t n = MSG_HEADER_MAX + 10;
	char *s = malloc(n);
	struct msg *m = NULL;
	struct err e;
	int st;

	(void)state;
	assert_non_null(s);
	memcpy(s, "Subject: ", 9);
	memset(s + 9, 'x', n - 9);
	err_init(&e);
	assert_int_equal(read_child(s, n, 65536, NULL, &m, &e, &st), -1);
	assert_int_equal(e.code, ERR_DATAERR);
	free(s);
}

/* ------------------------------------------------- body storage */

static char *make_body(size_t n)
{
	char *s = malloc(n);
	size_t i;

	assert_non_null(s);
	for (i = 0; i < n; i++)
		s[i] = (i % 61 == 60) ? '\n' : (char)('a' + i % 26);
	return s;
}

/* Up to MSG_MEM_MAX body bytes stay in memory (an unusable tmpdir does not
 * matter); one more byte needs the temporary file. */
static void test_spill_threshold(void **state)
{
	struct msg_read_opts ro = { 0, "/nonexistent/dir" };
	const char *hdr = "Subject: big\n\n";
	size_t hl = strlen(hdr), n;
	struct msg *m;
	struct err e;
	char *s;
	int st;

	(void)state;
	for (n = MSG_MEM_MAX; n <= MSG_MEM_MAX + 1; n++) {
		s = make_body(hl + n);
		memcpy(s, hdr, hl);
		err_init(&e);
		m = NULL;
		if (n == MSG_MEM_MAX) {
			assert_int_equal(read_child(s, hl + n, 4096, &ro, &m, &e,
						    &st), 0);
			assert_stream(m, s, hl + n);
			msg_free(m);
		} else {
			assert_int_equal(read_child(s, hl + n, 4096, &ro, &m, &e,
						    &st), -1);
			assert_int_equal(e.code, ERR_IOERR);
			assert_non_null(strstr(e.msg, "/nonexistent/dir"));
		}
		free(s);
	}
}

/* A body several times MSG_MEM_MAX comes back identical from the
 * temporary file, twice, also after a rewrite. */
static void test_spill_stream(void **state)
{
	struct msg_read_opts ro = { 0, NULL };
	size_t n = 5 * MSG_MEM_MAX + 12345, len;
	char *s = make_body(n), *got;
	struct msg_rewrite rw;
	struct msg *m = NULL;
	struct err e;
	int st;

	(void)state;
	memcpy(s, "Bcc: x@y\n\n", 10);
	s[n / 2] = (char)0xe9;
	err_init(&e);
	assert_int_equal(read_child(s, n, 3000, &ro, &m, &e, &st), 0);
	assert_int_equal(st, 0);
	assert_stream(m, s, n);
	assert_stream(m, s, n);
	assert_int_equal(msg_is_8bit(m), 1);
	assert_int_equal(msg_wire_size(m), ref_wire_size(m));
	memset(&rw, 0, sizeof rw);
	rw.remove_bcc_headers = 1;
	assert_int_equal(msg_rewrite(m, &rw, &e), 0);
	got = stream_all(m, &len);
	assert_int_equal(len, n - 9);
	assert_memory_equal(got, s + 9, len);
	assert_int_equal(msg_wire_size(m), ref_wire_size(m));
	free(got);
	msg_free(m);
	free(s);
}

/* $TMPDIR is where the body spills when no tmpdir is given. */
static void test_spill_tmpdir_env(void **state)
{
	size_t n = 2 * MSG_MEM_MAX;
	char *s = make_body(n);
	char *old = getenv("TMPDIR");
	struct msg *m = NULL;
	struct err e;

	(void)state;
	old = old ? strdup(old) : NULL;
	setenv("TMPDIR", "/nonexistent/envdir", 1);
	err_init(&e);
	assert_int_equal(read_child(s, n, 65536, NULL, &m, &e, NULL), -1);
	assert_non_null(strstr(e.msg, "/nonexistent/envdir"));
	if (old) {
		setenv("TMPDIR", old, 1);
		free(old);
	} else {
		unsetenv("TMPDIR");
	}
	err_init(&e);
	assert_int_equal(read_child(s, n, 65536, NULL, &m, &e, NULL), 0);
	assert_stream(m, s, n);
	msg_free(m);
	free(s);
}

/* A regular file is read in place from its current offset: no temporary
 * file even for a big body, and the stream reads the file itself. */
static void test_inplace(void **state)
{
	struct msg_read_opts ro = { 0, "/nonexistent/dir" };
	size_t n = 3 * MSG_MEM_MAX, len;
	char *s = make_body(n), *got;
	struct msg *m = NULL;
	struct err e;
	int fd;

	(void)state;
	memcpy(s, "A: b\n\n", 6);
	fd = file_with("IGNORED PREFIX\n", s, n);
	err_init(&e);
	assert_int_equal(msg_read(fd, &ro, &m, &e), 0);
	assert_stream(m, s, n);
	assert_int_equal(msg_wire_size(m), ref_wire_size(m));
	/* Change a body byte in the file: the stream shows it. */
	assert_int_equal(pwrite(fd, "Z", 1, (off_t)(15 + 100)), 1);
	got = stream_all(m, &len);
	assert_int_equal(len, n);
	assert_int_equal(got[100], 'Z');
	free(got);
	/* A shortened file is an error while streaming, not a short mail. */
	assert_int_equal(ftruncate(fd, 15 + 1000), 0);
	{
		char b[4096];
		ssize_t r;

		assert_int_equal(msg_stream_rewind(m, &e), 0);
		while ((r = msg_stream_read(m, b, sizeof b, &e)) > 0)
			;
		assert_int_equal(r, -1);
		assert_int_equal(e.code, ERR_IOERR);
	}
	msg_free(m);
	close(fd);
	free(s);
}

static void test_inplace_dot(void **state)
{
	struct msg_read_opts ro = { 1, NULL };
	struct msg *m = NULL;
	struct err e;
	int fd;

	(void)state;
	fd = file_with("x", S("A: b\n\nline\n.\nafter\n"));
	err_init(&e);
	assert_int_equal(msg_read(fd, &ro, &m, &e), 0);
	assert_stream(m, S("A: b\n\nline\n"));
	msg_free(m);
	close(fd);
	/* a final "." without a line end is content, read in place too */
	fd = file_with("x", S("A: b\n\nline\n."));
	assert_int_equal(msg_read(fd, &ro, &m, &e), 0);
	assert_stream(m, S("A: b\n\nline\n."));
	assert_int_equal(msg_wire_size(m), ref_wire_size(m));
	msg_free(m);
	close(fd);
}

/* ------------------------------------------------------ "." ends input */

struct dot_case {
	const char *in;
	size_t inlen;
	const char *out;        /* with dot_ends_input */
	size_t outlen;
};

/* Only a "." line ended by LF or CRLF ends the input (doc/msmtp.1); a
 * final "." without a line end, or one followed by a bare CR, is
 * content. */
static const struct dot_case dot_cases[] = {
	{ S("a\n.\nb\n"), S("a\n") },
	{ S("a\r\n.\r\nb"), S("a\r\n") },
	{ S("a\n.\r\n"), S("a\n") },
	{ S("a\n."), S("a\n.") },
	{ S("a\r\n."), S("a\r\n.") },
	{ S("a\n.\r"), S("a\n.\r") },
	{ S("a\r.\rb"), S("a\r.\rb") },
	{ S("a\n.\rb\n.\n"), S("a\n.\rb\n") },
	{ S("a\n.\r.\n"), S("a\n.\r") },
	{ S("a\r.\nb"), S("a\r") },
	{ S(".\n"), S("") },
	{ S("."), S(".") },
	{ S("Subject: x\n\n."), S("Subject: x\n\n.") },
	{ S("Subject: x\n."), S("Subject: x\n.") },
	{ S(".\nmore\n"), S("") },
	{ S("Subject: x\n\n.\n"), S("Subject: x\n\n") },
	{ S("Subject: x\n.\n"), S("Subject: x\n") },
	{ S("Subject: x\n\nbody\n.\n"), S("Subject: x\n\nbody\n") },
	{ S("a\n..\nb"), S("a\n..\nb") },
	{ S("a\n .\nb"), S("a\n .\nb") },
	{ S("a\n.x\n"), S("a\n.x\n") },
	{ S("a.\n"), S("a.\n") },
	{ S("a\n..\n.\nz"), S("a\n..\n") },
	{ S("A: b\n .\n\nc\n"), S("A: b\n .\n\nc\n") },
	{ S("\n.\n"), S("\n") },
};

static void check_dot_case(const struct dot_case *c)
{
	struct msg_read_opts on = { 1, NULL }, off = { 0, NULL };
	struct msg *m;
	struct err e;
	size_t i, j, cuts[2];

	for (i = 0; i <= c->inlen; i++) {
		for (j = i; j <= c->inlen; j++) {
			cuts[0] = i;
			cuts[1] = j;
			err_init(&e);
			assert_int_equal(read_cuts(c->in, c->inlen, cuts, 2, &on,
						   &m, &e), 0);
			assert_stream(m, c->out, c->outlen);
			assert_int_equal(msg_wire_size(m), ref_wire_size(m));
			msg_free(m);
			assert_int_equal(read_cuts(c->in, c->inlen, cuts, 2, &off,
						   &m, &e), 0);
			assert_stream(m, c->in, c->inlen);
			msg_free(m);
		}
	}
}

static void test_dot_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof dot_cases / sizeof dot_cases[0]; i++)
		check_dot_case(&dot_cases[i]);
}

/* After the "." line the rest of the pipe is read, so the writer gets
 * neither SIGPIPE nor EPIPE; byte-sized writes split the dot line. */
static void test_dot_drain(void **state)
{
	struct msg_read_opts ro = { 1, NULL };
	size_t tail = 1024 * 1024, n, i;
	char *s = malloc(tail + 64);
	struct msg *m = NULL;
	struct err e;
	int st;

	(void)state;
	assert_non_null(s);
	memcpy(s, "A: b\n\nhello\r\n.\r\n", 16);
	for (i = 0; i < tail; i++)
		s[16 + i] = (i % 50 == 49) ? '\n' : '#';
	n = 16 + tail;
	err_init(&e);
	assert_int_equal(read_child(s, n, 4099, &ro, &m, &e, &st), 0);
	assert_int_equal(st, 0);
	assert_stream(m, S("A: b\n\nhello\r\n"));
	msg_free(m);
	/* The same, one byte per write for the first part. */
	assert_int_equal(read_child(s, 40, 1, &ro, &m, &e, &st), 0);
	assert_int_equal(st, 0);
	assert_stream(m, S("A: b\n\nhello\r\n"));
	msg_free(m);
	free(s);
}

/* ------------------------------------------------------ NUL and 8-bit */

static void test_nul_8bit(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		int dot;
		int is8, nul;
	} t[] = {
		{ S("A: b\n\nplain\n"), 0, 0, 0 },
		{ S("A: b\n\npl\0in\n"), 0, 0, 1 },
		{ S("A: b\0c\n\nplain\n"), 0, 0, 1 },
		{ S("A: b\n\n\xc3\xa9t\xc3\xa9\n"), 0, 1, 0 },
		{ S("Subject: \xc3\xa9\n\nplain\n"), 0, 1, 0 },
		{ S("x\x7f\n"), 0, 0, 0 },
		{ S("\x80"), 0, 1, 0 },
		{ S("a\n.\n\xff\0"), 1, 0, 0 },
		{ S("a\n.\n\xff\0"), 0, 1, 1 },
	};
	struct msg_read_opts ro;
	struct msg *m;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		ro.dot_ends_input = t[i].dot;
		ro.tmpdir = NULL;
		m = read_ok(t[i].in, t[i].len, &ro);
		assert_int_equal(msg_is_8bit(m), t[i].is8);
		assert_int_equal(msg_has_nul(m), t[i].nul);
		msg_free(m);
	}
}

/* The counts behind the wire size and the 8-bit and NUL facts look at 8
 * bytes at a time: random messages, cut anywhere, agree with the byte by
 * byte reference whatever falls on which side of a word. */
static void test_stats_random(void **state)
{
	static const char alpha[] = { 'a', 'b', 'c', 'd', ' ', ':', '.', 'X',
		'\r', '\n', '\0', '\x80', '\xc3', '\x0e', '\x0c', '\x7f' };
	char in[700];
	size_t cuts[6], i, k, c, n, len;
	unsigned seed = 4242;
	struct msg *m;
	struct err e;
	char *s;
	int is8, nul, rare;

	(void)state;
	for (i = 0; i < 3000; i++) {
		n = (size_t)(rand_r(&seed) % sizeof in);
		rare = 1 + rand_r(&seed) % 40;
		for (k = 0; k < n; k++)
			in[k] = rand_r(&seed) % rare ? alpha[rand_r(&seed) % 8]
				: alpha[rand_r(&seed) % sizeof alpha];
		/* cuts right after a CR (an LF may follow), ascending */
		for (k = 0, c = 0; k < n && c < 6; k++)
			if (in[k] == '\r' && rand_r(&seed) % 3 == 0) {
				cuts[c++] = k + 1;
				if (k + 1 < n && rand_r(&seed) % 2)
					in[k + 1] = '\n';
			}
		err_init(&e);
		m = NULL;
		assert_int_equal(read_cuts(in, n, cuts, c, NULL, &m, &e), 0);
		s = stream_all(m, &len);
		is8 = nul = 0;
		for (k = 0; k < len; k++) {
			is8 |= (unsigned char)s[k] >= 0x80;
			nul |= s[k] == '\0';
		}
		assert_int_equal(msg_is_8bit(m), is8);
		assert_int_equal(msg_has_nul(m), nul);
		assert_int_equal(msg_wire_size(m), ref_wire_size(m));
		free(s);
		msg_free(m);
	}
}

/* msg_stream_left counts down to 0 exactly when the stream ends. */
static void test_stream_left(void **state)
{
	static const char in[] = "A: b\n\nbody\nmore\n";
	struct msg *m = read_ok(in, sizeof in - 1, NULL);
	struct err e;
	char out[8];
	uint64_t left = sizeof in - 1;
	ssize_t r;

	(void)state;
	err_init(&e);
	assert_int_equal(msg_stream_rewind(m, &e), 0);
	assert_int_equal(msg_stream_left(m), left);
	while ((r = msg_stream_read(m, out, 3, &e)) > 0) {
		left -= (uint64_t)r;
		assert_int_equal(msg_stream_left(m), left);
	}
	assert_int_equal(r, 0);
	assert_int_equal(left, 0);
	msg_free(m);
}

/* --------------------------------------------------------- recipients */

struct rcpt_case {
	const char *hdr;
	const char *want;       /* space-separated */
};

static const struct rcpt_case rcpt_cases[] = {
	{ "To: a@x, B <b@y>\nCc: c@z\nBcc: d@w\nSubject: s\n\nTo: no@body\n",
	  "a@x b@y c@z d@w" },
	{ "To: a@x,\n b@y\r\n\t, c@z\n\n", "a@x b@y c@z" },
	{ "tO: a@x\ncc: b@x\nbCC: c@x\n", "a@x b@x c@x" },
	{ "To: a@x\nSubject: s\nTo: b@x\n", "a@x b@x" },
	{ "To: grp: a@x, \"Q, R\" <b@y>;, c@z\n", "a@x b@y c@z" },
	{ "To: undisclosed-recipients:;\n", "" },
	{ "Subject: none\n\n", "" },
	{ "X-To: a@x\nReply-To: b@x\n", "" },
	{ "Resent-To: r@x\nResent-Cc: s@x\nReceived: by x\nReturn-Path: <z@z>\n"
	  "Resent-Bcc: t@x\nFrom: f@x\nTo: a@x\n\n", "r@x s@x t@x" },
	{ "Received: by y\nResent-From: f@x\nResent-To: r@x\nTo: a@x\n",
	  "r@x" },
	{ "To: a@x\nResent-To: r@x\n", "r@x" },
	{ "Resent-To: r@x\nSubject: s\nResent-To: later@x\n", "r@x" },
	{ "Resent-Date: d2\nResent-From: f2\nResent-To: new@x\nReceived: x\n"
	  "Resent-Date: d1\nResent-From: f1\nResent-To: old@x\nTo: a@x\n",
	  "new@x" },
	{ "Resent-From: f\nResent-Date: d\nResent-To: a@x\nResent-From: g\n"
	  "Resent-To: b@x\n", "a@x" },
	{ "resent-to: a@x,\n b@x\n", "a@x b@x" },
	{ "Resent-Message-ID: <1@x>\nTo: a@x\n", "" },
};

static void check_rcpts(const struct addr_list *l, const char *want)
{
	char buf[512];
	size_t i, k = 0;

	buf[0] = '\0';
	for (i = 0; i < l->n; i++)
		k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%s",
				      i ? " " : "", l->v[i]);
	assert_string_equal(buf, want);
}

static void test_recipients(void **state)
{
	struct addr_list l;
	struct msg *m;
	struct err e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof rcpt_cases / sizeof rcpt_cases[0]; i++) {
		m = read_ok(rcpt_cases[i].hdr, strlen(rcpt_cases[i].hdr), NULL);
		addr_list_init(&l);
		err_init(&e);
		assert_int_equal(msg_header_recipients(m, &l, &e), 0);
		check_rcpts(&l, rcpt_cases[i].want);
		addr_list_free(&l);
		msg_free(m);
	}
}

/* -t with n lines "To:aI@x,aI@X" (the second a duplicate; 50,000 of
 * them stay under MSG_HEADER_MAX): the probes it takes (every field is
 * one addr_parse_list call). */
static unsigned long long header_rcpt_cost(size_t n)
{
	size_t cap = n * 32 + 8, o = 0, i;
	char *hdr = malloc(cap);
	unsigned long long before;
	struct addr_list l;
	struct msg *m;
	struct err e;
	int fd;

	assert_non_null(hdr);
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(hdr + o, cap - o, "To:a%zu@x,a%zu@X\n",
				      i, i);
	o += (size_t)snprintf(hdr + o, cap - o, "\nbody\n");
	fd = file_with("", hdr, o);
	free(hdr);
	err_init(&e);
	if (msg_read(fd, NULL, &m, &e) != 0)
		fail_msg("%s", e.msg);
	close(fd);
	addr_list_init(&l);
	before = addr_probe_count();
	if (msg_header_recipients(m, &l, &e) != 0)
		fail_msg("%s", e.msg);
	before = addr_probe_count() - before;
	assert_int_equal(l.n, n);
	addr_list_free(&l);
	msg_free(m);
	return before;
}

/* 50,000 To: lines cost a bounded number of probes per recipient, no
 * more than 1,000 lines do (counted, not timed: it took ~16 s when every
 * field rebuilt the duplicate index). */
static void test_recipients_many_lines(void **state)
{
	unsigned long long small, big;

	(void)state;
	small = header_rcpt_cost(1000);
	big = header_rcpt_cost(50000);
	if (small > 10 * 1000 || big > 10 * 50000 ||
	    big / 50000 > 2 * (small / 1000) + 2)
		fail_msg("%llu probes for 1000 lines, %llu for 50000", small,
			 big);
}

/* Recipients are added to what the list already holds, without
 * duplicates; a broken field is an error naming the field. */
static void test_recipients_append_and_error(void **state)
{
	struct addr_list l;
	struct msg *m;
	struct err e;

	(void)state;
	m = read_ok(S("To: a@x, b@x\nCc: a@x\n\n"), NULL);
	addr_list_init(&l);
	err_init(&e);
	assert_int_equal(addr_list_add_unique(&l, "first@x", &e), 0);
	assert_int_equal(msg_header_recipients(m, &l, &e), 0);
	check_rcpts(&l, "first@x a@x b@x");
	addr_list_free(&l);
	msg_free(m);

	m = read_ok(S("Subject: s\nCc: <a@x\n\n"), NULL);
	addr_list_init(&l);
	err_init(&e);
	assert_int_equal(msg_header_recipients(m, &l, &e), -1);
	assert_int_equal(e.code, ERR_DATAERR);
	assert_true(strncmp(e.msg, "Cc header: ", 11) == 0);
	addr_list_free(&l);
	msg_free(m);
}

static void test_envelope_from(void **state)
{
	static const struct {
		const char *hdr;
		const char *want;
	} t[] = {
		{ "From: A <a@x>\nTo: b@x\n\n", "a@x" },
		{ "from: a@x,\n b@x\n", "a@x" },
		{ "Resent-From: r@x\nFrom: a@x\n", "r@x" },
		{ "From: a@x\nResent-From: r@x\n", "a@x" },
		{ "To: a@x\n\nFrom: b@x\n", NULL },
		{ "From: \n", NULL },
		{ "From: group:;\n", NULL },
		{ "", NULL },
		{ "Sender: s@x\nFrom: \"Joe, Q\" <q@x>\n", "q@x" },
	};
	struct msg *m;
	struct err e;
	char *from;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		m = read_ok(t[i].hdr, strlen(t[i].hdr), NULL);
		err_init(&e);
		from = (char *)"unset";
		assert_int_equal(msg_header_envelope_from(m, &from, &e), 0);
		if (t[i].want == NULL) {
			assert_null(from);
		} else {
			assert_non_null(from);
			assert_string_equal(from, t[i].want);
		}
		free(from);
		msg_free(m);
	}
}

static void test_has_header(void **state)
{
	struct msg *m = read_ok(S("Message-id: <x>\nDATE: now\n\nFrom: body\n"),
				NULL);

	(void)state;
	assert_int_equal(msg_has_header(m, "Message-ID"), 1);
	assert_int_equal(msg_has_header(m, "date"), 1);
	assert_int_equal(msg_has_header(m, "From"), 0);
	assert_int_equal(msg_has_header(m, "Dat"), 0);
	assert_int_equal(msg_has_header(m, "Message-ID2"), 0);
	msg_free(m);
}

/* ------------------------------------------------------------ rewrite */

static char *rewrite_str(const char *in, size_t n, const struct msg_rewrite *rw,
			 size_t *len)
{
	struct msg *m = read_ok(in, n, NULL);
	struct err e;
	char *s;

	err_init(&e);
	if (msg_rewrite(m, rw, &e) != 0) {
		print_error("msg_rewrite: %s\n", e.msg);
		fail();
	}
	assert_int_equal(msg_wire_size(m), ref_wire_size(m));
	s = stream_all(m, len);
	s = realloc(s, *len + 1);
	assert_non_null(s);
	s[*len] = '\0';
	msg_free(m);
	return s;
}

struct rw_case {
	const char *in;
	size_t inlen;
	const char *out;
	size_t outlen;
};

static void run_rw_cases(const struct rw_case *t, size_t n,
			 const struct msg_rewrite *rw)
{
	size_t i, len;
	char *s;

	for (i = 0; i < n; i++) {
		s = rewrite_str(t[i].in, t[i].inlen, rw, &len);
		assert_mem(s, len, t[i].out, t[i].outlen);
		free(s);
	}
}

static void test_rewrite_bcc(void **state)
{
	static const struct rw_case t[] = {
		{ S("From: a\nBcc: x@y,\n z@w\n\tq@q\nTo: t\nResent-Bcc: q\n"
		    " r\n\nbody\nBcc: keep\n"),
		  S("From: a\nTo: t\n\nbody\nBcc: keep\n") },
		{ S("A: b\r\nBCC: c\r\n\r\nbody\r\n"), S("A: b\r\n\r\nbody\r\n") },
		{ S("Bcc: only\n"), S("") },
		{ S("Bcc: only\n\nbody"), S("\nbody") },
		{ S("A: 1\nBcc: x\nbody\n"), S("A: 1\n\nbody\n") },
		{ S("A: 1\rBcc: x\n\nbody"), S("A: 1\r\n\nbody") },
		{ S("Bccx: 1\nX-Bcc: 2\nResent-Bccc: 3\n\n"),
		  S("Bccx: 1\nX-Bcc: 2\nResent-Bccc: 3\n\n") },
		{ S("Subject: \xc3\xa9 \0 x\nBcc: b\n\n"),
		  S("Subject: \xc3\xa9 \0 x\n\n") },
	};
	static const struct rw_case keep[] = {
		{ S("From: a\nBcc: x@y,\n z@w\nResent-Bcc: q\n\nbody\n"),
		  S("From: a\nBcc: x@y,\n z@w\nResent-Bcc: q\n\nbody\n") },
	};
	struct msg_rewrite rw;

	(void)state;
	memset(&rw, 0, sizeof rw);
	rw.remove_bcc_headers = 1;
	run_rw_cases(t, sizeof t / sizeof t[0], &rw);
	rw.remove_bcc_headers = 0;
	run_rw_cases(keep, 1, &rw);
}

static void test_rewrite_from(void **state)
{
	static const struct rw_case autofrom[] = {
		{ S("Subject: s\n\nb\n"), S("From: env@x\nSubject: s\n\nb\n") },
		{ S("FROM: h@x\nSubject: s\n\nb\n"),
		  S("FROM: h@x\nSubject: s\n\nb\n") },
		{ S(""), S("From: env@x\n") },
		{ S("Subject: x"), S("From: env@x\nSubject: x") },
		{ S("hello\n"), S("From: env@x\n\nhello\n") },
	};
	static const struct rw_case on[] = {
		{ S("To: t\nFrom: old@x,\n other@x\nSubject: s\n\nFrom: b\n"),
		  S("From: env@x\nTo: t\nSubject: s\n\nFrom: b\n") },
		{ S("Subject: s\n\n"), S("From: env@x\nSubject: s\n\n") },
	};
	static const struct rw_case named[] = {
		{ S("A: b\n\n"), S("From: Joe User <env@x>\nA: b\n\n") },
	};
	struct msg_rewrite rw;
	size_t len;
	char *s;

	(void)state;
	memset(&rw, 0, sizeof rw);
	rw.from_addr = "env@x";
	rw.set_from_header = 2;
	run_rw_cases(autofrom, sizeof autofrom / sizeof autofrom[0], &rw);
	rw.set_from_header = 1;
	run_rw_cases(on, sizeof on / sizeof on[0], &rw);
	rw.full_name = "Joe User";
	run_rw_cases(named, 1, &rw);
	rw.full_name = "J\xc3\xb6rg";
	s = rewrite_str(S("A: b\n"), &rw, &len);
	assert_regex(s, "^From: =\\?utf-8\\?B\\?[A-Za-z0-9+/=]+\\?= <env@x>\nA: b\n$");
	free(s);
	rw.full_name = "";
	s = rewrite_str(S("A: b\n"), &rw, &len);
	assert_string_equal(s, "From: env@x\nA: b\n");
	free(s);
	/* Off: nothing changes. */
	rw.set_from_header = 0;
	s = rewrite_str(S("From: x@y\n"), &rw, &len);
	assert_string_equal(s, "From: x@y\n");
	free(s);
}

static void test_rewrite_from_bad(void **state)
{
	struct msg_rewrite rw;
	struct msg *m = read_ok(S("A: b\n\n"), NULL);
	struct err e;

	(void)state;
	memset(&rw, 0, sizeof rw);
	rw.set_from_header = 1;
	rw.from_addr = "a@x";
	rw.full_name = "Evil\r\nBcc: victim@x";
	err_init(&e);
	assert_int_equal(msg_rewrite(m, &rw, &e), -1);
	assert_int_equal(e.code, ERR_USAGE);
	/* The failed rewrite left the original in place. */
	assert_stream(m, S("A: b\n\n"));
	msg_free(m);
}

static void test_rewrite_to(void **state)
{
	struct msg_rewrite rw;
	struct addr_list l;
	struct err e;
	char name[64], *s, *line, *save;
	size_t len, i;

	(void)state;
	memset(&rw, 0, sizeof rw);
	addr_list_init(&l);
	err_init(&e);
	addr_list_add_unique(&l, "a@x", &e);
	addr_list_add_unique(&l, "b@y", &e);
	addr_list_add_unique(&l, "root", &e);
	rw.rcpts = &l;
	rw.set_to_header = 1;
	s = rewrite_str(S("To: old@x\nSubject: s\nCc: c@x,\n d@x\nBcc: e@x\n\nb\n"),
			&rw, &len);
	assert_string_equal(s, "To: a@x, b@y, root\nSubject: s\n\nb\n");
	free(s);
	rw.set_to_header = 2;
	s = rewrite_str(S("To: old@x\nSubject: s\n\nb\n"), &rw, &len);
	assert_string_equal(s, "To: undisclosed-recipients:;\nSubject: s\n\nb\n");
	free(s);
	/* Many recipients fold between addresses before column 78. */
	rw.set_to_header = 1;
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof name, "user%zu@example.org", i);
		addr_list_add_unique(&l, name, &e);
	}
	s = rewrite_str(S("Subject: s\n\n"), &rw, &len);
	assert_true(strncmp(s, "To: a@x, b@y, root, user0@example.org,", 38) == 0);
	{
		size_t nlines = 0, seen = 0;

		for (line = strtok_r(s, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save)) {
			if (strncmp(line, "Subject", 7) == 0)
				break;
			assert_true(strlen(line) <= 78);
			assert_true(nlines == 0 ? line[0] == 'T' : line[0] == ' ');
			nlines++;
			seen += (size_t)(strstr(line, "user39@example.org") != NULL);
		}
		assert_true(nlines > 5);
		assert_int_equal(seen, 1);
	}
	free(s);
	addr_list_free(&l);
}

static const char *const date_re =
	"^Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-3][0-9] "
	"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} "
	"[0-2][0-9]:[0-5][0-9]:[0-6][0-9] [+-][0-9]{4}$";
static const char *const msgid_re =
	"^Message-ID: <[0-9]{8}\\.[0-9]{6}\\.[0-9]+\\.[0-9a-f]{16}@mail\\.example\\.org>$";

static void test_rewrite_generated_order(void **state)
{
	struct msg_rewrite rw;
	struct addr_list l;
	struct err e;
	size_t len;
	char *s;

	(void)state;
	memset(&rw, 0, sizeof rw);
	addr_list_init(&l);
	err_init(&e);
	addr_list_add_unique(&l, "r@x", &e);
	rw.set_from_header = 2;
	rw.from_addr = "f@x";
	rw.set_to_header = 1;
	rw.rcpts = &l;
	rw.set_date_header = 2;
	rw.set_msgid_header = 2;
	rw.msgid_domain = "mail.example.org";
	rw.remove_bcc_headers = 1;
	s = rewrite_str(S("Subject: s\nBcc: b@x\n\nbody\n"), &rw, &len);
	assert_regex(s, "^From: f@x\nTo: r@x\nDate: [^\n]+\nMessage-ID: [^\n]+\n"
		     "Subject: s\n\nbody\n$");
	assert_regex(s, date_re);
	assert_regex(s, msgid_re);
	free(s);
	/* Present fields are not added again. */
	s = rewrite_str(S("date: Mon, 1 Jan 2024 00:00:00 +0000\nMESSAGE-ID: <a@b>\n"
			  "From: h@x\n\n"), &rw, &len);
	assert_string_equal(s, "To: r@x\ndate: Mon, 1 Jan 2024 00:00:00 +0000\n"
			    "MESSAGE-ID: <a@b>\nFrom: h@x\n\n");
	free(s);
	addr_list_free(&l);
}

static void check_zone(const char *tz, const char *want)
{
	struct msg_rewrite rw;
	size_t len;
	char *s, re[128];

	setenv("TZ", tz, 1);
	tzset();
	memset(&rw, 0, sizeof rw);
	rw.set_date_header = 2;
	s = rewrite_str(S("A: b\n"), &rw, &len);
	assert_regex(s, date_re);
	snprintf(re, sizeof re, " [%c]%s\nA: b\n$", want[0], want + 1);
	assert_regex(s, re);
	free(s);
}

static void test_rewrite_date_zone(void **state)
{
	char *old = getenv("TZ");

	(void)state;
	old = old ? strdup(old) : NULL;
	check_zone("UTC0", "+0000");
	check_zone("EST5", "-0500");
	check_zone("<+0530>-5:30", "+0530");
	check_zone("<-0930>9:30", "-0930");
	if (old) {
		setenv("TZ", old, 1);
		free(old);
	} else {
		unsetenv("TZ");
	}
	tzset();
}

/* The `date -R` form: the day of the month always has two digits, as
 * msmtp writes it.  Fixed moments in fixed zones. */
static void check_date(const char *tz, time_t when, const char *want)
{
	char out[64];

	setenv("TZ", tz, 1);
	tzset();
	assert_int_equal(msg_format_date(when, out, sizeof out), 0);
	assert_string_equal(out, want);
}

static void test_format_date(void **state)
{
	char *old = getenv("TZ");
	char small[31];

	(void)state;
	old = old ? strdup(old) : NULL;
	/* 2026-12-02 09:00:00 UTC */
	check_date("<+0100>-1", 1796202000, "Wed, 02 Dec 2026 10:00:00 +0100");
	check_date("UTC0", 1796202000, "Wed, 02 Dec 2026 09:00:00 +0000");
	/* 2027-01-01 00:30:00 UTC: the day before in New York's zone */
	check_date("EST5", 1798763400, "Thu, 31 Dec 2026 19:30:00 -0500");
	check_date("<+0530>-5:30", 1798763400, "Fri, 01 Jan 2027 06:00:00 +0530");
	/* 31 characters plus the NUL do not fit in 31 bytes */
	assert_int_equal(msg_format_date(1796202000, small, sizeof small), -1);
	if (old) {
		setenv("TZ", old, 1);
		free(old);
	} else {
		unsetenv("TZ");
	}
	tzset();
}

/* The date is today's: parse it back and compare with time(). */
static void test_rewrite_date_value(void **state)
{
	struct msg_rewrite rw;
	struct tm tm;
	size_t len;
	char *s, *end;
	time_t now = time(NULL), got;
	char *old = getenv("TZ");

	(void)state;
	old = old ? strdup(old) : NULL;
	setenv("TZ", "UTC0", 1);
	tzset();
	memset(&rw, 0, sizeof rw);
	rw.set_date_header = 2;
	s = rewrite_str(S(""), &rw, &len);
	memset(&tm, 0, sizeof tm);
	end = strptime(s, "Date: %a, %d %b %Y %H:%M:%S +0000", &tm);
	assert_non_null(end);
	got = timegm(&tm);
	assert_true(got >= now - 2 && got <= now + 2);
	free(s);
	if (old) {
		setenv("TZ", old, 1);
		free(old);
	} else {
		unsetenv("TZ");
	}
	tzset();
}

static void test_rewrite_msgid(void **state)
{
	struct msg_rewrite rw;
	struct msg *m;
	struct err e;
	size_t len;
	char *a, *b;

	(void)state;
	memset(&rw, 0, sizeof rw);
	rw.set_msgid_header = 2;
	rw.msgid_domain = "mail.example.org";
	a = rewrite_str(S("\n"), &rw, &len);
	b = rewrite_str(S("\n"), &rw, &len);
	assert_regex(a, msgid_re);
	assert_regex(b, msgid_re);
	assert_string_not_equal(a, b);
	free(a);
	free(b);
	rw.msgid_domain = NULL;
	a = rewrite_str(S(""), &rw, &len);
	assert_regex(a, "^Message-ID: <[^@>]+@localhost>\n$");
	free(a);
	rw.msgid_domain = "bad domain\r\nX: y";
	m = read_ok(S(""), NULL);
	err_init(&e);
	assert_int_equal(msg_rewrite(m, &rw, &e), -1);
	assert_int_equal(e.code, ERR_USAGE);
	msg_free(m);
}

/* msg_rewrite starts from the original every time. */
static void test_rewrite_twice(void **state)
{
	struct msg_rewrite rw;
	struct msg *m = read_ok(S("From: a@x\nBcc: b@x\n\nbody\n"), NULL);
	struct err e;

	(void)state;
	memset(&rw, 0, sizeof rw);
	err_init(&e);
	rw.remove_bcc_headers = 1;
	rw.set_from_header = 1;
	rw.from_addr = "new@x";
	assert_int_equal(msg_rewrite(m, &rw, &e), 0);
	assert_stream(m, S("From: new@x\n\nbody\n"));
	rw.set_from_header = 0;
	rw.remove_bcc_headers = 0;
	assert_int_equal(msg_rewrite(m, &rw, &e), 0);
	assert_stream(m, S("From: a@x\nBcc: b@x\n\nbody\n"));
	/* Queries still see the original fields. */
	assert_int_equal(msg_has_header(m, "Bcc"), 1);
	msg_free(m);
}

/* Too many recipients for the header limit: a data error, not a crash. */
static void test_rewrite_too_large(void **state)
{
	struct msg_rewrite rw;
	struct addr_list l;
	struct msg *m = read_ok(S("A: b\n"), NULL);
	struct err e;
	char name[256], pad[201];
	size_t i;

	(void)state;
	addr_list_init(&l);
	err_init(&e);
	memset(pad, 'u', 200);
	pad[200] = '\0';
	/* 6000 addresses of about 220 bytes: more than MSG_HEADER_MAX. */
	/* Filled directly: addr_list_add_unique is quadratic. */
	l.v = calloc(6000, sizeof *l.v);
	assert_non_null(l.v);
	l.cap = 6000;
	for (i = 0; i < 6000; i++) {
		snprintf(name, sizeof name, "%s%zu@example.org", pad, i);
		l.v[l.n] = strdup(name);
		assert_non_null(l.v[l.n++]);
	}
	memset(&rw, 0, sizeof rw);
	rw.set_to_header = 1;
	rw.rcpts = &l;
	assert_int_equal(msg_rewrite(m, &rw, &e), -1);
	assert_int_equal(e.code, ERR_DATAERR);
	addr_list_free(&l);
	msg_free(m);
}

/* Wire size: each line end counts 2, a missing final one is added. */
static void test_wire_size(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		uint64_t want;
	} t[] = {
		{ S(""), 0 },
		{ S("a"), 3 },
		{ S("a\n"), 3 },
		{ S("a\r\n"), 3 },
		{ S("a\r"), 3 },
		{ S("a\rb\n"), 6 },
		{ S("A: b\n\nc"), 11 },
		{ S("A: b\r\n\r\n.\r\n"), 11 },
		{ S("\n\n\r\r"), 8 },
	};
	struct msg *m;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		m = read_ok(t[i].in, t[i].len, NULL);
		assert_int_equal(msg_wire_size(m), t[i].want);
		msg_free(m);
	}
}

/* Partial reads of the stream: any read size gives the same bytes. */
static void test_stream_small_reads(void **state)
{
	static const char in[] = "From: a\nBcc: b\n\nline one\nline two\n";
	struct msg_rewrite rw;
	struct msg *m = read_ok(in, sizeof in - 1, NULL);
	struct err e;
	char out[128];
	size_t k, n;
	ssize_t r;

	(void)state;
	memset(&rw, 0, sizeof rw);
	rw.remove_bcc_headers = 1;
	err_init(&e);
	assert_int_equal(msg_rewrite(m, &rw, &e), 0);
	for (k = 1; k < 12; k++) {
		assert_int_equal(msg_stream_rewind(m, &e), 0);
		n = 0;
		while ((r = msg_stream_read(m, out + n, k, &e)) > 0) {
			assert_true((size_t)r <= k);
			n += (size_t)r;
		}
		assert_int_equal(r, 0);
		assert_mem(out, n, S("From: a\n\nline one\nline two\n"));
	}
	msg_free(m);
}

/* A failing read is an I/O error. */
static void test_read_error(void **state)
{
	struct msg *m = NULL;
	struct err e;
	int fd = open("/", O_RDONLY | O_DIRECTORY);

	(void)state;
	assert_true(fd >= 0);
	err_init(&e);
	assert_int_equal(msg_read(fd, NULL, &m, &e), -1);
	assert_int_equal(e.code, ERR_IOERR);
	assert_null(m);
	close(fd);
}


/* ------------------------------------------------------------ BDAT */

/* What the server keeps from a DATA stream: the final ".\r\n" removed
 * and one leading dot of each line un-stuffed (RFC 5321 4.5.2). */
static char *unstuff(const char *d, size_t n, size_t *outlen)
{
	char *o = malloc(n + 1);
	size_t i = 0, k = 0;

	assert_non_null(o);
	assert_true(n >= 3);
	assert_memory_equal(d + n - 3, ".\r\n", 3);
	n -= 3;
	while (i < n) {
		if (d[i] == '.')
			i++;    /* every line starting with a dot was stuffed */
		while (i < n) {
			o[k++] = d[i];
			if (d[i++] == '\n')
				break;
		}
	}
	*outlen = k;
	return o;
}

/* The DATA stream of the outgoing message, whole. */
static char *data_stream(struct msg *m, size_t *len)
{
	size_t rawlen;
	char *raw = stream_all(m, &rawlen), *o;
	struct msg_enc enc;
	struct buf out;

	buf_init(&out, 3 * rawlen + 16);
	msg_enc_init(&enc);
	assert_int_equal(msg_enc_feed(&enc, raw, rawlen, &out), 0);
	assert_int_equal(msg_enc_finish(&enc, &out), 0);
	o = malloc(out.len + 1);
	assert_non_null(o);
	memcpy(o, out.data, out.len);
	*len = out.len;
	buf_free(&out);
	free(raw);
	return o;
}

/* Every chunk of the BDAT reader with chunk size `size`: each exactly
 * `size` bytes but the last, LAST on the final one only; returns the
 * reassembled bytes and the number of chunks. */
static char *bdat_all(struct msg *m, size_t size, size_t *len,
		      size_t *nchunks)
{
	struct msg_bdat b;
	struct err e;
	size_t cap = 4096, n = 0;
	char *o = malloc(cap), *chunk = malloc(size ? size : 1);
	int last = 0;
	ssize_t r;

	err_init(&e);
	assert_non_null(o);
	assert_non_null(chunk);
	assert_int_equal(msg_bdat_start(&b, m, &e), 0);
	*nchunks = 0;
	while (!last) {
		r = msg_bdat_read(&b, chunk, size, &last, &e);
		assert_true(r >= 0);
		(*nchunks)++;
		if (!last)
			assert_int_equal((size_t)r, size);
		else if (*nchunks > 1 || n > 0)
			assert_true(r > 0);     /* never an empty LAST after data */
		while (cap - n < (size_t)r + 1) {
			cap *= 2;
			o = realloc(o, cap);
			assert_non_null(o);
		}
		memcpy(o + n, chunk, (size_t)r);
		n += (size_t)r;
		assert_true(*nchunks < 100000000);
	}
	msg_bdat_free(&b);
	free(chunk);
	*len = n;
	return o;
}

/* The BDAT bytes equal the DATA bytes minus stuffing and final dot, and
 * their count is the SIZE= we declare, for every chunk size. */
static void check_bdat(struct msg *m, size_t maxsize)
{
	size_t dlen, ulen, blen, size, nchunks;
	char *d = data_stream(m, &dlen);
	char *u = unstuff(d, dlen, &ulen);

	assert_int_equal(msg_wire_size(m), ulen);
	for (size = 1; size <= maxsize; size++) {
		char *bd = bdat_all(m, size, &blen, &nchunks);

		assert_mem(bd, blen, u, ulen);
		assert_int_equal(nchunks, ulen ? (ulen + size - 1) / size : 1);
		free(bd);
	}
	free(u);
	free(d);
}

/* The table of the DATA encoder, read as messages, every chunk size. */
static void test_bdat_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof enc_cases / sizeof enc_cases[0]; i++) {
		struct msg *m = read_ok(enc_cases[i].in, enc_cases[i].inlen,
					NULL);

		check_bdat(m, enc_cases[i].inlen * 2 + 8);
		msg_free(m);
	}
}

/* Headers, a header section ending in bare CRs, leading dots, NULs and
 * no final newline, after a rewrite too. */
static void test_bdat_messages(void **state)
{
	static const struct {
		const char *in;
		size_t len;
	} t[] = {
		{ S("Subject: x\n\n.one\n..two\n.\nend") },
		{ S("Subject: x\r\r\n.body\r") },
		{ S("Subject: x\r\rbody\n") },
		{ S("A: b\r\n\r\n.\r\n") },
		{ S("Bcc: z\nA: b\n\n\0.\n\r.\r\r\n.") },
		{ S("no header at all\n.\n") },
		{ S("\n\n\r\r") },
	};
	struct msg_rewrite rw;
	struct msg *m;
	struct err e;
	size_t i;

	(void)state;
	err_init(&e);
	memset(&rw, 0, sizeof rw);
	rw.remove_bcc_headers = 1;
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		m = read_ok(t[i].in, t[i].len, NULL);
		check_bdat(m, t[i].len * 2 + 8);
		assert_int_equal(msg_rewrite(m, &rw, &e), 0);
		check_bdat(m, t[i].len * 2 + 8);
		msg_free(m);
	}
}

/* Random messages from the bytes that matter, every chunk size. */
static void test_bdat_random(void **state)
{
	static const char alpha[] = { 'a', '.', '\r', '\n', '\0', ':', ' ' };
	char in[120];
	unsigned seed = 4242;
	size_t i, k, n;

	(void)state;
	for (i = 0; i < 600; i++) {
		struct msg *m;

		n = (size_t)(rand_r(&seed) % sizeof in);
		for (k = 0; k < n; k++)
			in[k] = alpha[rand_r(&seed) % sizeof alpha];
		m = read_ok(in, n, NULL);
		check_bdat(m, n * 2 + 4);
		msg_free(m);
	}
}

/* A body spilled to a file, bigger than the reader's blocks, with a CR
 * LF pair split across its blocks: large chunk sizes around the block
 * size give the same bytes in constant memory. */
static void test_bdat_large(void **state)
{
	struct msg_read_opts ro = { 0, NULL };
	size_t n = 5 * MSG_CHUNK + 777, i, dlen, ulen, blen, nchunks;
	char *s = make_body(n), *d, *u, *bd;
	static const size_t sizes[] = { MSG_CHUNK - 1, MSG_CHUNK,
		MSG_CHUNK + 1, 3 * MSG_CHUNK, 256 * 1024, 16 * MSG_CHUNK };
	struct msg *m = NULL;
	struct err e;
	int st;

	(void)state;
	memcpy(s, "Subject: big\n\n", 14);
	s[MSG_CHUNK - 1] = '\r';
	s[MSG_CHUNK] = '\n';
	s[2 * MSG_CHUNK - 1] = '\r';
	s[2 * MSG_CHUNK] = '.';
	s[3 * MSG_CHUNK] = '.';
	s[n - 1] = 'z';
	err_init(&e);
	assert_int_equal(read_child(s, n, 3000, &ro, &m, &e, &st), 0);
	assert_int_equal(st, 0);
	d = data_stream(m, &dlen);
	u = unstuff(d, dlen, &ulen);
	assert_int_equal(msg_wire_size(m), ulen);
	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		bd = bdat_all(m, sizes[i], &blen, &nchunks);
		assert_mem(bd, blen, u, ulen);
		assert_int_equal(nchunks, (ulen + sizes[i] - 1) / sizes[i]);
		free(bd);
	}
	free(u);
	free(d);
	msg_free(m);
	free(s);
}

/* An empty message is one empty LAST chunk. */
static void test_bdat_empty(void **state)
{
	struct msg *m = read_ok("", 0, NULL);
	struct msg_bdat b;
	struct err e;
	char c[8];
	int last = 0;

	(void)state;
	err_init(&e);
	assert_int_equal(msg_bdat_start(&b, m, &e), 0);
	assert_int_equal(msg_bdat_read(&b, c, sizeof c, &last, &e), 0);
	assert_int_equal(last, 1);
	msg_bdat_free(&b);
	msg_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enc_table),
		cmocka_unit_test(test_enc_random),
		cmocka_unit_test(test_enc_large),
		cmocka_unit_test(test_enc_large_crlf),
		cmocka_unit_test(test_enc_cap),
		cmocka_unit_test(test_header_split),
		cmocka_unit_test(test_header_name_limit),
		cmocka_unit_test(test_empty_input),
		cmocka_unit_test(test_header_limit),
		cmocka_unit_test(test_header_limit_one_line),
		cmocka_unit_test(test_spill_threshold),
		cmocka_unit_test(test_spill_stream),
		cmocka_unit_test(test_spill_tmpdir_env),
		cmocka_unit_test(test_inplace),
		cmocka_unit_test(test_inplace_dot),
		cmocka_unit_test(test_dot_table),
		cmocka_unit_test(test_dot_drain),
		cmocka_unit_test(test_nul_8bit),
		cmocka_unit_test(test_stats_random),
		cmocka_unit_test(test_stream_left),
		cmocka_unit_test(test_recipients),
		cmocka_unit_test(test_recipients_many_lines),
		cmocka_unit_test(test_recipients_append_and_error),
		cmocka_unit_test(test_envelope_from),
		cmocka_unit_test(test_has_header),
		cmocka_unit_test(test_rewrite_bcc),
		cmocka_unit_test(test_rewrite_from),
		cmocka_unit_test(test_rewrite_from_bad),
		cmocka_unit_test(test_rewrite_to),
		cmocka_unit_test(test_rewrite_generated_order),
		cmocka_unit_test(test_rewrite_date_zone),
		cmocka_unit_test(test_format_date),
		cmocka_unit_test(test_rewrite_date_value),
		cmocka_unit_test(test_rewrite_msgid),
		cmocka_unit_test(test_rewrite_twice),
		cmocka_unit_test(test_rewrite_too_large),
		cmocka_unit_test(test_wire_size),
		cmocka_unit_test(test_stream_small_reads),
		cmocka_unit_test(test_read_error),
		cmocka_unit_test(test_bdat_table),
		cmocka_unit_test(test_bdat_messages),
		cmocka_unit_test(test_bdat_random),
		cmocka_unit_test(test_bdat_large),
		cmocka_unit_test(test_bdat_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
