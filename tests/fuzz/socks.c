/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz target: the SOCKS5 client (src/socks.c) against a proxy whose
 * answers are the input, delivered in fuzzer-chosen pieces through a
 * struct net_conn whose recv/send functions are ours (no socket).
 *
 * Input: a byte choosing the destination host, two bytes of port, the
 * cut sizes (cut.h), then the proxy's bytes.  Invariants: we send the
 * greeting 05 01 00 and a CONNECT for the host and port; success comes
 * only for a well-formed answer (05 00, then 05 00 00 and a bound address
 * of a known type) and then exactly that answer was read, nothing of
 * what follows it; a failure reads no more than the answer either, and
 * carries a documented exit code and one line of printable text.
 */
#include "config.h"
#include "fuzzkit.h"
#include "cut.h"

#include <string.h>

#include "buf.h"
#include "net.h"
#include "socks.h"

struct fsocks {
	struct net_conn c;
	const unsigned char *in;
	size_t n, off;
	struct fuzz_cuts cuts;
	struct buf sent;
};

static struct fsocks fsocks_cur;

static ssize_t fsocks_recv(struct net_conn *c, void *p, size_t n,
			   struct err *e)
{
	struct fsocks *f = &fsocks_cur;
	size_t k;

	(void)c;
	(void)e;
	if (f->off == f->n)
		return 0;
	k = fuzz_cuts_next(&f->cuts, f->n - f->off);
	if (k > n)
		k = n;
	memcpy(p, f->in + f->off, k);
	f->off += k;
	return (ssize_t)k;
}

static ssize_t fsocks_send(struct net_conn *c, const void *p, size_t n,
			   struct err *e)
{
	(void)c;
	if (buf_append(&fsocks_cur.sent, p, n) < 0)
		return err_set(e, ERR_IOERR, "too much sent");
	return (ssize_t)n;
}

/* The length of a well-formed answer at the start of the input, or 0
 * when it is not one (or is cut short). */
static size_t fsocks_expected(const unsigned char *p, size_t n)
{
	size_t len;

	if (n < 2 || p[0] != 5 || p[1] != 0 || n < 6 || p[2] != 5
	    || p[3] != 0)
		return 0;
	switch (p[5]) {
	case 1: len = 2 + 4 + 4 + 2; break;
	case 4: len = 2 + 4 + 16 + 2; break;
	case 3:
		if (n < 7)
			return 0;
		len = 2 + 4 + 1 + p[6] + 2;
		break;
	default: return 0;
	}
	return len <= n ? len : 0;
}

/* The longest answer any reading could take: the bound address part
 * read only after a success code. */
static size_t fsocks_max_read(const unsigned char *p, size_t n)
{
	size_t m = 2 + 4 + 1 + 255 + 2;

	return m < n ? m : n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const hosts[] = {
		"smtp.example.org", "192.0.2.1", "2001:db8::1",
		"b\303\274cher.example",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"x",
	};
	struct fsocks *f = &fsocks_cur;
	struct fuzz_in in;
	struct err e;
	const char *host;
	size_t want, i;
	int port, r;

	fuzz_in_init(&in, data, size);
	host = hosts[fuzz_byte(&in) % 6];
	port = (int)fuzz_byte(&in) << 8;
	port |= (int)fuzz_byte(&in);
	if (port == 0)
		port = 25;
	memset(f, 0, sizeof *f);
	fuzz_cuts_take(&f->cuts, &in);
	f->in = in.p;
	f->n = in.n;
	f->c.fd = -1;
	f->c.timeout_s = 5;
	f->c.recv_fn = fsocks_recv;
	f->c.send_fn = fsocks_send;
	buf_init(&f->sent, 4096);
	err_init(&e);
	r = socks_connect(&f->c, host, port, &e);
	want = fsocks_expected(f->in, f->n);
	if (r == 0) {
		FUZZ_CHECK(!err_isset(&e));
		FUZZ_CHECK(want > 0 && f->off == want);
		FUZZ_CHECK(f->sent.len >= 3 + 7);
		FUZZ_CHECK(memcmp(f->sent.data, "\x05\x01\x00\x05\x01\x00", 6) == 0);
		FUZZ_CHECK((unsigned char)f->sent.data[f->sent.len - 2] == (port >> 8)
			   && (unsigned char)f->sent.data[f->sent.len - 1]
			   == (port & 0xff));
	} else {
		FUZZ_CHECK(e.code == ERR_UNAVAILABLE || e.code == ERR_TEMPFAIL
			   || e.code == ERR_PROTOCOL || e.code == ERR_NOHOST);
		FUZZ_CHECK(f->off <= fsocks_max_read(f->in, f->n));
		for (i = 0; e.msg[i]; i++)
			FUZZ_CHECK((unsigned char)e.msg[i] >= 0x20
				   && e.msg[i] != 0x7f);
	}
	buf_free(&f->sent);
	return 0;
}
