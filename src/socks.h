/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * socks - the client side of a SOCKS5 proxy (RFC 1928): the method "no
 * authentication" and the command CONNECT, on a connection already open
 * to the proxy (the gate opens it; nothing else calls this).
 *
 * The destination's host name goes to the proxy as a domain name (an
 * A-label for an international name) and is never resolved here; an
 * address literal goes as an IPv4 or IPv6 address.
 *
 * The whole exchange is bounded by one deadline of the connection's
 * timeout (net_deadline_start), and exactly the proxy's reply is read:
 * what the server sends first (its greeting, or its part of a TLS
 * handshake) stays on the connection for the next layer.
 *
 * Errors (the caller puts the proxy's name in front):
 *  - replies "connection not allowed by ruleset", "command not supported"
 *    and "address type not supported": ERR_UNAVAILABLE;
 *  - replies "general SOCKS server failure", "network unreachable", "host
 *    unreachable", "connection refused", "TTL expired", a timeout, a
 *    closed or broken connection: ERR_TEMPFAIL;
 *  - a proxy that wants authentication, bytes that are not SOCKS5, an
 *    unknown reply: ERR_PROTOCOL;
 *  - a host name longer than the protocol carries (255 bytes):
 *    ERR_NOHOST, before anything is sent.
 * Each message says what the proxy answered (with the reply's number).
 */
#ifndef MSMTP_SOCKS_H
#define MSMTP_SOCKS_H

#include "err.h"
#include "net.h"

/* Ask the proxy at the other end of c for a connection to host:port;
 * 0 when c now leads to the server. */
int socks_connect(struct net_conn *c, const char *host, int port,
		  struct err *e);

#endif
