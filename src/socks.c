/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "socks.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "ext.h"
#include "log.h"

#define SOCKS_VERSION 5
#define SOCKS_CMD_CONNECT 1
#define SOCKS_ATYP_IPV4 1
#define SOCKS_ATYP_DOMAIN 3
#define SOCKS_ATYP_IPV6 4
#define SOCKS_METHOD_NONE 0
#define SOCKS_METHOD_USERPASS 2
#define SOCKS_METHOD_REFUSED 0xff
#define SOCKS_NAME_MAX 255
/* VER CMD RSV ATYP, a length byte, the longest name, the port */
#define SOCKS_REQUEST_MAX (4 + 1 + SOCKS_NAME_MAX + 2)

/* Send all of p; the context names the step for an error. */
static int socks_send(struct net_conn *c, const void *p, size_t n,
		      const char *step, struct err *e)
{
	if (net_write_all(c, p, n, e) == 0)
		return 0;
	err_prefix(e, "sending %s", step);
	return -1;
}

/* Exactly n bytes of the proxy's answer (never more: what follows belongs
 * to the server). */
static int socks_recv(struct net_conn *c, unsigned char *p, size_t n,
		      const char *step, struct err *e)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = net_read(c, p + got, n - got, e);

		if (r < 0) {
			err_prefix(e, "waiting for %s", step);
			return -1;
		}
		if (r == 0)
			return err_set(e, ERR_TEMPFAIL, "the proxy closed the "
				       "connection before %s", step);
		got += (size_t)r;
	}
	return 0;
}

/* Offer "no authentication" and check the proxy takes it. */
static int socks_greet(struct net_conn *c, struct err *e)
{
	static const unsigned char hello[] = {
		SOCKS_VERSION, 1, SOCKS_METHOD_NONE
	};
	unsigned char ans[2];

	if (socks_send(c, hello, sizeof hello, "the greeting", e) < 0
	    || socks_recv(c, ans, sizeof ans, "the answer to the greeting",
			  e) < 0)
		return -1;
	if (ans[0] != SOCKS_VERSION)
		return err_set(e, ERR_PROTOCOL, "not a SOCKS5 proxy (it "
			       "answered 0x%02x 0x%02x to the greeting)",
			       ans[0], ans[1]);
	if (ans[1] == SOCKS_METHOD_NONE)
		return 0;
	if (ans[1] == SOCKS_METHOD_USERPASS)
		return err_set(e, ERR_PROTOCOL, "the proxy wants user name and "
			       "password authentication, which msmtp does not "
			       "support");
	if (ans[1] == SOCKS_METHOD_REFUSED)
		return err_set(e, ERR_PROTOCOL, "the proxy accepts no method "
			       "msmtp offers (only no authentication): it "
			       "wants authentication");
	return err_set(e, ERR_PROTOCOL, "the proxy chose authentication "
		       "method %u, which was not offered", ans[1]);
}

/* The destination part of the request: an address literal as itself,
 * anything else as a domain name (A-label) for the proxy to resolve.
 * Returns the bytes written to out (ATYP onwards, without the port). */
static int socks_put_address(const char *host, unsigned char *out,
			     size_t cap, size_t *len, struct err *e)
{
	struct in6_addr a6;
	struct in_addr a4;
	char *ascii = NULL;
	const char *name, *why;
	size_t n;

	if (inet_pton(AF_INET, host, &a4) == 1) {
		out[0] = SOCKS_ATYP_IPV4;
		memcpy(out + 1, &a4, 4);
		*len = 5;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a6) == 1) {
		out[0] = SOCKS_ATYP_IPV6;
		memcpy(out + 1, &a6, 16);
		*len = 17;
		return 0;
	}
	if (ext_idn_to_ascii(host, &ascii, &why) != EXT_IDN_OK)
		ascii = NULL;
	name = ascii ? ascii : host;
	n = strlen(name);
	if (n == 0 || n > SOCKS_NAME_MAX || n + 2 > cap) {
		free(ascii);
		return err_set(e, ERR_NOHOST, "cannot send host name %.64s... "
			       "to the proxy: %s", host, n == 0 ? "empty"
			       : "longer than 255 bytes");
	}
	out[0] = SOCKS_ATYP_DOMAIN;
	out[1] = (unsigned char)n;
	memcpy(out + 2, name, n);
	free(ascii);
	*len = n + 2;
	return 0;
}

/* RFC 1928's words for a refusal, and what it means for the exit code. */
static int socks_refusal(unsigned rep, const char **text)
{
	static const struct {
		const char *text;
		int code;
	} reps[] = {
		{ NULL, 0 },
		{ "general SOCKS server failure", ERR_TEMPFAIL },
		{ "connection not allowed by ruleset", ERR_UNAVAILABLE },
		{ "network unreachable", ERR_TEMPFAIL },
		{ "host unreachable", ERR_TEMPFAIL },
		{ "connection refused", ERR_TEMPFAIL },
		{ "TTL expired", ERR_TEMPFAIL },
		{ "command not supported", ERR_UNAVAILABLE },
		{ "address type not supported", ERR_UNAVAILABLE },
	};

	if (rep == 0 || rep >= sizeof reps / sizeof reps[0]) {
		*text = NULL;
		return ERR_PROTOCOL;
	}
	*text = reps[rep].text;
	return reps[rep].code;
}

/* Read the rest of a success reply: the bound address, whose length
 * depends on its type, and the port. */
static int socks_skip_bound(struct net_conn *c, unsigned atyp,
			    struct err *e)
{
	unsigned char buf[SOCKS_NAME_MAX + 2];
	size_t n;

	if (atyp == SOCKS_ATYP_IPV4)
		n = 4;
	else if (atyp == SOCKS_ATYP_IPV6)
		n = 16;
	else if (atyp == SOCKS_ATYP_DOMAIN) {
		if (socks_recv(c, buf, 1, "the reply to CONNECT", e) < 0)
			return -1;
		n = buf[0];
	} else
		return err_set(e, ERR_PROTOCOL, "not a SOCKS5 reply (unknown "
			       "address type %u)", atyp);
	return socks_recv(c, buf, n + 2, "the reply to CONNECT", e);
}

/* CONNECT and its reply. */
static int socks_request(struct net_conn *c, const char *host, int port,
			 struct err *e)
{
	unsigned char req[SOCKS_REQUEST_MAX], ans[4];
	const char *text;
	size_t len = 0;
	int code;

	req[0] = SOCKS_VERSION;
	req[1] = SOCKS_CMD_CONNECT;
	req[2] = 0;
	if (socks_put_address(host, req + 3, sizeof req - 5, &len, e) < 0)
		return -1;
	req[3 + len] = (unsigned char)((unsigned)port >> 8);
	req[4 + len] = (unsigned char)(port & 0xff);
	if (socks_send(c, req, len + 5, "CONNECT", e) < 0
	    || socks_recv(c, ans, sizeof ans, "the reply to CONNECT", e) < 0)
		return -1;
	if (ans[0] != SOCKS_VERSION)
		return err_set(e, ERR_PROTOCOL, "not a SOCKS5 proxy (its reply "
			       "to CONNECT has version %u)", ans[0]);
	if (ans[1] == 0)
		return socks_skip_bound(c, ans[3], e);
	code = socks_refusal(ans[1], &text);
	if (text == NULL)
		return err_set(e, ERR_PROTOCOL, "cannot connect to %s, port %d: "
			       "unknown SOCKS reply %u", host, port, ans[1]);
	return err_set(e, code, "cannot connect to %s, port %d: %s (SOCKS "
		       "reply %u)", host, port, text, ans[1]);
}

int socks_connect(struct net_conn *c, const char *host, int port,
		  struct err *e)
{
	struct in6_addr a6;
	struct in_addr a4;
	int literal = inet_pton(AF_INET, host, &a4) == 1
		|| inet_pton(AF_INET6, host, &a6) == 1;
	int r;

	if (strlen(host) > SOCKS_NAME_MAX && !literal)
		return err_set(e, ERR_NOHOST, "cannot send host name %.64s... "
			       "to the proxy: longer than 255 bytes", host);
	log_debug("SOCKS5: CONNECT %s, port %d (%s)", host, port, literal
		  ? "an address" : "the proxy resolves the name");
	net_deadline_start(c);
	r = socks_greet(c, e) < 0 || socks_request(c, host, port, e) < 0
		? -1 : 0;
	net_deadline_stop(c);
	if (r == 0)
		log_debug("SOCKS5: the proxy is connected to %s", host);
	return r;
}
