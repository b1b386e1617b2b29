/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * gate - the one way to a server: turns an account into an open,
 * policy-checked connection.  Every path that connects (a send, -S,
 * failover, queue runs, failure reports, later -bs) goes through
 * gate_open() and gate_connect(); nothing else calls net_connect.
 *
 * Policy:
 *  - TLS default (stricter than msmtp): an account without `tls` uses
 *    STARTTLS (port 587) unless its server is local; "local" by name (a
 *    socket, a loopback address, localhost, *.localhost) only picks port
 *    25 - whether the link may stay plain is decided on the address
 *    actually connected to: a peer that is not loopback gets STARTTLS.
 *    Through a proxy only a loopback address literal is local by name
 *    (the proxy resolves names, on its own machine), and the proxy's
 *    address must be loopback too.
 *  - Credentials never travel in clear unless the final destination is
 *    loopback: with TLS off, AUTH needs a socket, a loopback address, or a
 *    host name whose connected peer address is loopback.  With a proxy the
 *    destination counts as remote (refused before connecting) unless the
 *    account's host is a loopback address, and then the proxy must be
 *    reached on a loopback address.  A refusal sends nothing.
 *  - A proxy is never bypassed: an account with proxy_host (and no
 *    socket, which ignores it) reaches its server only through a SOCKS5
 *    CONNECT (socks.h) on the connection to the proxy, before TLS; the
 *    connection's peer then reads "via proxy HOST:PORT".  Every proxy
 *    failure names the proxy: unreachable (also its name unknown)
 *    ERR_TEMPFAIL, the rest as socks.h says.
 *  - The password is found before connecting, so a failing passwordeval
 *    costs no connection; for an OAuth2 account it is the access token
 *    (oauth.h: cached, or refreshed now).
 * Every failure here is a session failure (outcome.h).
 * The address family (ip_family) and the timeout apply to the proxy's
 * address as to the server's.
 */
#ifndef MSMTP_GATE_H
#define MSMTP_GATE_H

#include "conf.h"
#include "err.h"
#include "net.h"
#include "secret.h"
#include "tls.h"

enum gate_tls { GATE_TLS_NONE, GATE_TLS_STARTTLS, GATE_TLS_IMPLICIT };

struct gate {
	const struct account *acct;
	enum gate_tls tls;              /* final after gate_connect */
	int tls_by_peer;                /* `tls` not set: the peer decides */
	struct tls_params tlsp;
	const char *auth;               /* NULL: no authentication */
	const char *user;
	struct secret *password;        /* password or token (owned) */
	int auth_needs_loopback;        /* plain link: AUTH only to loopback */
	int oauth;                      /* the password is an OAuth2 token */
	int token_fresh;                /* ... just obtained from the provider */
	char *netrc_user;               /* the login netrc gave (owned) */
};

/* The TLS default and the derived settings (port, domain), then
 * conf_account_finish.  For every account before it is used. */
int gate_prepare_account(struct account *a, struct err *e);

/* Everything that can be decided before connecting; with `want_auth`
 * the account's credentials are loaded.  -1 (err set): nothing may be
 * sent for this account now. */
int gate_open(struct gate *g, const struct account *a, int want_auth,
	      struct err *e);
/* Connect and apply the peer-address rules; *c is ready for the greeting
 * (or the implicit TLS handshake, g->tls). */
int gate_connect(struct gate *g, struct net_conn **c, struct err *e);
void gate_close(struct gate *g);
/* The server refused the OAuth2 token: a fresh one (refreshed unless
 * another process did already).  -1 (err set) when there is none. */
int gate_refresh_token(struct gate *g, struct err *e);

#endif
