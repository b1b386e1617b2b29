/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The SOCKS5 handshake, byte for byte, over a socketpair: the test plays
 * the proxy by putting its answers in the socket before the client runs,
 * then reads what the client sent. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "socks.h"

#define GREET "\x05\x01\x00"
#define OK_METHOD "\x05\x00"
#define OK_REPLY "\x05\x00\x00\x01\x7f\x00\x00\x01\x04\x38"

struct pair {
	struct net_conn *c;
	int proxy;
};

static void pair_open(struct pair *p, int timeout_s)
{
	struct err e;
	int sv[2];

	err_init(&e);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sv), 0);
	p->c = net_conn_from_fd(sv[0], timeout_s, &e);
	assert_non_null(p->c);
	p->proxy = sv[1];
}

static void pair_close(struct pair *p)
{
	net_close(p->c);
	if (p->proxy >= 0)
		close(p->proxy);
}

static void proxy_says(struct pair *p, const void *data, size_t n)
{
	assert_int_equal(write(p->proxy, data, n), (ssize_t)n);
}

/* Everything the client has sent so far. */
static size_t client_sent(struct pair *p, unsigned char *buf, size_t cap)
{
	size_t got = 0;

	for (;;) {
		ssize_t r = recv(p->proxy, buf + got, cap - got, MSG_DONTWAIT);

		if (r <= 0)
			return got;
		got += (size_t)r;
	}
}

static void expect_sent(struct pair *p, const void *want, size_t n)
{
	unsigned char buf[600];
	size_t got = client_sent(p, buf, sizeof buf);

	assert_int_equal(got, n);
	assert_memory_equal(buf, want, n);
}

/* The proxy's full success answer followed by the server's greeting: the
 * client reads exactly the SOCKS reply and leaves the greeting. */
static void connect_ok(const char *host, int port, const void *request,
		       size_t request_len, const void *reply, size_t reply_len)
{
	static const char greeting[] = "220 mail ESMTP\r\n";
	unsigned char want[600], rest[64];
	struct pair p;
	struct err e;
	ssize_t r;

	pair_open(&p, 5);
	err_init(&e);
	proxy_says(&p, OK_METHOD, 2);
	proxy_says(&p, reply, reply_len);
	proxy_says(&p, greeting, sizeof greeting - 1);
	if (socks_connect(p.c, host, port, &e) < 0)
		fail_msg("socks_connect: %s", e.msg);
	memcpy(want, GREET, 3);
	memcpy(want + 3, request, request_len);
	expect_sent(&p, want, 3 + request_len);
	r = net_read(p.c, rest, sizeof rest, &e);
	assert_int_equal(r, (ssize_t)sizeof greeting - 1);
	assert_memory_equal(rest, greeting, sizeof greeting - 1);
	assert_int_equal(p.c->deadline_on, 0);
	pair_close(&p);
}

static void test_name_sent_as_domain(void **state)
{
	(void)state;
	connect_ok("mail.example.org", 587,
		   "\x05\x01\x00\x03\x10mail.example.org\x02\x4b", 23,
		   OK_REPLY, 10);
}

static void test_idn_sent_as_a_label(void **state)
{
	(void)state;
	connect_ok("b\xc3\xbc" "cher.example", 25,
		   "\x05\x01\x00\x03\x15xn--bcher-kva.example\x00\x19", 28,
		   OK_REPLY, 10);
}

static void test_ipv4_literal_sent_as_address(void **state)
{
	(void)state;
	connect_ok("192.0.2.7", 465, "\x05\x01\x00\x01\xc0\x00\x02\x07\x01\xd1",
		   10, OK_REPLY, 10);
}

static void test_ipv6_literal_sent_as_address(void **state)
{
	(void)state;
	connect_ok("2001:db8::1", 25,
		   "\x05\x01\x00\x04\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01"
		   "\x00\x19", 22, OK_REPLY, 10);
}

static void test_bound_address_kinds_read_exactly(void **state)
{
	static const char v6[] = "\x05\x00\x00\x04" "0123456789abcdef" "\x01\x02";
	static const char dom[] = "\x05\x00\x00\x03\x05relay\x01\x02";

	(void)state;
	connect_ok("h", 25, "\x05\x01\x00\x03\x01h\x00\x19", 8, v6,
		   sizeof v6 - 1);
	connect_ok("h", 25, "\x05\x01\x00\x03\x01h\x00\x19", 8, dom,
		   sizeof dom - 1);
}

/* One refusal: what the proxy answered -> (exit code, message part). */
static void refused(const void *answer, size_t n, int timeout_s, int code,
		    const char *needle)
{
	struct pair p;
	struct err e;

	pair_open(&p, timeout_s);
	err_init(&e);
	if (n > 0)
		proxy_says(&p, answer, n);
	assert_int_equal(socks_connect(p.c, "mail.example.org", 587, &e), -1);
	if (e.code != code || strstr(e.msg, needle) == NULL)
		fail_msg("answer of %zu bytes: %d %s (want %d, '%s')", n,
			 e.code, e.msg, code, needle);
	assert_int_equal(p.c->deadline_on, 0);
	pair_close(&p);
}

static void test_reply_codes(void **state)
{
	static const struct {
		unsigned char rep;
		int code;
		const char *text;
	} rows[] = {
		{ 1, 75, "general SOCKS server failure (SOCKS reply 1)" },
		{ 2, 69, "connection not allowed by ruleset (SOCKS reply 2)" },
		{ 3, 75, "network unreachable (SOCKS reply 3)" },
		{ 4, 75, "host unreachable (SOCKS reply 4)" },
		{ 5, 75, "connection refused (SOCKS reply 5)" },
		{ 6, 75, "TTL expired (SOCKS reply 6)" },
		{ 7, 69, "command not supported (SOCKS reply 7)" },
		{ 8, 69, "address type not supported (SOCKS reply 8)" },
		{ 9, 76, "unknown SOCKS reply 9" },
		{ 255, 76, "unknown SOCKS reply 255" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		unsigned char answer[12] = { 5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0 };

		answer[3] = rows[i].rep;
		refused(answer, sizeof answer, 5, rows[i].code, rows[i].text);
		refused(answer, sizeof answer, 5, rows[i].code,
			"cannot connect to mail.example.org, port 587: ");
	}
}

static void test_authentication_wanted(void **state)
{
	(void)state;
	refused("\x05\x02", 2, 5, 76, "wants user name and password "
		"authentication, which msmtp does not support");
	refused("\x05\xff", 2, 5, 76, "accepts no method msmtp offers");
	refused("\x05\x01", 2, 5, 76, "chose authentication method 1, "
		"which was not offered");
}

static void test_garbage(void **state)
{
	(void)state;
	refused("HTTP/1.1 400 Bad Request\r\n", 26, 5, 76,
		"not a SOCKS5 proxy");
	refused("\x05\x00\x04\x00\x00\x01\0\0\0\0\0\0", 12, 5, 76,
		"not a SOCKS5 proxy");
	refused("\x05\x00\x05\x00\x00\x07\0\0\0\0\0\0", 12, 5, 76,
		"unknown address type 7");
}

static void test_closed_and_stalled(void **state)
{
	struct pair p;
	struct err e;

	(void)state;
	pair_open(&p, 5);
	err_init(&e);
	proxy_says(&p, "\x05\x00\x05", 3);
	shutdown(p.proxy, SHUT_WR);
	assert_int_equal(socks_connect(p.c, "h", 25, &e), -1);
	assert_int_equal(e.code, 75);
	assert_non_null(strstr(e.msg, "the proxy closed the connection"));
	pair_close(&p);
	refused("", 0, 1, 75, "timed out after 1 seconds");
}

static void test_name_too_long(void **state)
{
	char name[300];
	struct pair p;
	struct err e;
	unsigned char buf[8];

	(void)state;
	memset(name, 'a', 256);
	name[256] = '\0';
	pair_open(&p, 5);
	err_init(&e);
	assert_int_equal(socks_connect(p.c, name, 25, &e), -1);
	assert_int_equal(e.code, 68);
	assert_non_null(strstr(e.msg, "longer than 255 bytes"));
	assert_int_equal(client_sent(&p, buf, sizeof buf), 0);
	pair_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_sent_as_domain),
		cmocka_unit_test(test_idn_sent_as_a_label),
		cmocka_unit_test(test_ipv4_literal_sent_as_address),
		cmocka_unit_test(test_ipv6_literal_sent_as_address),
		cmocka_unit_test(test_bound_address_kinds_read_exactly),
		cmocka_unit_test(test_reply_codes),
		cmocka_unit_test(test_authentication_wanted),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_closed_and_stalled),
		cmocka_unit_test(test_name_too_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
