/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "gate.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "oauth.h"
#include "sasl.h"
#include "socks.h"

/* A numeric address in the loopback ranges: 127/8, ::1 and ::ffff:127/104
 * (IPv4-mapped).  Host names never count here. */
static int gate_addr_is_loopback(const char *text)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, text, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, text, &a6) != 1)
		return 0;
	if (IN6_IS_ADDR_LOOPBACK(&a6))
		return 1;
	return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
}

static int gate_is_literal(const char *text)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, text, &a4) == 1
		|| inet_pton(AF_INET6, text, &a6) == 1;
}

/* A socket account ignores proxy_host (as msmtp documents). */
static int gate_proxied(const struct account *a)
{
	return a->proxy_host && *a->proxy_host
		&& !(a->socket && *a->socket);
}

/* 1 when the account's configuration alone says "this machine".  Through
 * a proxy only a loopback literal does: the proxy resolves names, on its
 * own machine. */
static int gate_local_by_name(const struct account *a)
{
	const char *h = a->host;
	size_t n;

	if (a->socket && *a->socket)
		return 1;
	if (h == NULL)
		return 0;
	if (gate_proxied(a))
		return gate_addr_is_loopback(h);
	n = strlen(h);
	if (strcasecmp(h, "localhost") == 0
	    || (n > 10 && strcasecmp(h + n - 10, ".localhost") == 0))
		return 1;
	return gate_addr_is_loopback(h);
}

/* An account without `tls` keeps CONF_TLS_UNSET when its server is local
 * by name (port 25 then; the connected peer decides); any other gets
 * STARTTLS. */
int gate_prepare_account(struct account *a, struct err *e)
{
	if (a->tls == CONF_TLS_UNSET && !gate_local_by_name(a))
		a->tls = CONF_ON;
	return conf_account_finish(a, e);
}

static void gate_tls_params(struct gate *g, const struct account *a)
{
	g->tls = a->tls != CONF_ON ? GATE_TLS_NONE
		: a->tls_starttls == CONF_OFF ? GATE_TLS_IMPLICIT
		: GATE_TLS_STARTTLS;
	g->tls_by_peer = a->tls == CONF_TLS_UNSET;
	g->tlsp.host = a->tls_host_override && *a->tls_host_override
		? a->tls_host_override : a->host;
	g->tlsp.trust_file = a->tls_trust_file;
	g->tlsp.crl_file = a->tls_crl_file;
	g->tlsp.fingerprint = a->tls_fingerprint;
	g->tlsp.certcheck = a->tls_certcheck != CONF_OFF;
	g->tlsp.key_file = a->tls_key_file;
	g->tlsp.cert_file = a->tls_cert_file;
	g->tlsp.priorities = a->tls_priorities;
	g->tlsp.session_cache = a->tls_session_cache != CONF_OFF;
	g->tlsp.cache_account = a->name;
	g->tlsp.cache_server = a->host ? a->host : a->socket;
	g->tlsp.port = a->port;
}

static int gate_refuse_clear(const struct account *a, struct err *e)
{
	return err_set(e, ERR_UNAVAILABLE, "refusing to authenticate over an "
		       "unencrypted connection to %s (set 'tls on'); nothing "
		       "was sent", a->host ? a->host : a->socket);
}

/* Where credentials may go in clear: decided now when the configuration
 * tells, else on the connected peer (auth_needs_loopback).  Through a
 * proxy the destination is remote unless host is a loopback literal, and
 * then the proxy itself must turn out to be on a loopback address. */
static int gate_auth_policy(struct gate *g, const struct account *a,
			    struct err *e)
{
	int proxied = gate_proxied(a);

	if (a->tls == CONF_ON || g->tls_by_peer)
		return 0;       /* TLS, or STARTTLS unless the peer is loopback */
	if (a->socket && *a->socket)
		return 0;
	if (a->host == NULL)
		return gate_refuse_clear(a, e);
	if (gate_addr_is_loopback(a->host)) {
		g->auth_needs_loopback = proxied;
		return 0;
	}
	if (proxied || gate_is_literal(a->host))
		return gate_refuse_clear(a, e);
	g->auth_needs_loopback = 1;
	return 0;
}

static int gate_load_password(struct gate *g, const struct account *a,
			      struct err *e)
{
	struct secret_req req;

	if (!sasl_needs_password(a->auth))
		return 0;
	if (g->oauth)
		return oauth_token(a, 0, &g->password, &g->token_fresh, e);
	memset(&req, 0, sizeof req);
	req.password = a->password;
	req.passwordeval = a->passwordeval;
	req.host = a->host;
	req.user = g->user;
	req.timeout = a->timeout;
	return secret_load(&req, &g->password, e);
}

/* No `user`: the login of the host's netrc entry, if there is one. */
static int gate_netrc_user(struct gate *g, const struct account *a,
			   struct err *e)
{
	int r = secret_netrc_login(a->host ? a->host : "", conf_home_dir(),
				   NULL, &g->netrc_user, e);

	if (r < 0)
		return -1;
	if (r == 0)
		return err_set(e, ERR_CONFIG, "authentication needs a user name "
			       "(set 'user' in account %s, or give a login for "
			       "%s in ~/.netrc)", a->name, a->host ? a->host
			       : a->socket);
	log_debug("user name from netrc: %s", g->netrc_user);
	g->user = g->netrc_user;
	return 0;
}

int gate_open(struct gate *g, const struct account *a, int want_auth,
	      struct err *e)
{
	memset(g, 0, sizeof *g);
	g->acct = a;
	gate_tls_params(g, a);
	if (!want_auth || a->auth == NULL || strcmp(a->auth, "off") == 0)
		return 0;
	if (gate_auth_policy(g, a, e) < 0)
		return -1;
	g->user = a->user;
	if (g->user == NULL && strcasecmp(a->auth, "external") != 0
	    && strcasecmp(a->auth, "gssapi") != 0 && gate_netrc_user(g, a, e) < 0)
		return -1;
	g->oauth = a->oauth2_provider != CONF_OAUTH2_NONE;
	/* OAuth2 with auth on: OAUTHBEARER when offered, else XOAUTH2 */
	g->auth = g->oauth && strcmp(a->auth, "on") == 0 ? "oauth" : a->auth;
	return gate_load_password(g, a, e);
}

int gate_refresh_token(struct gate *g, struct err *e)
{
	if (!g->oauth)
		return err_set(e, ERR_NOPERM, "authentication failed");
	if (oauth_token(g->acct, 1, &g->password, &g->token_fresh, e) < 0)
		return -1;
	log_debug("OAuth2: the server refused the access token; trying once "
		  "more with a fresh one");
	return 0;
}

/* The rules that need the connected address: a plain link to a peer
 * that is not loopback gets STARTTLS when the account did not choose,
 * and never carries credentials.  `peer` is the address connected to
 * (the proxy's, through one); `loopback` the verdict on the whole way. */
static int gate_check_peer(struct gate *g, const char *peer, int loopback,
			   struct err *e)
{
	const char *what = gate_proxied(g->acct) ? "the SOCKS proxy at " : "";

	if (g->tls_by_peer && !loopback) {
		log_debug("%s%s is not a loopback address: STARTTLS is "
			  "required", what, peer);
		g->tls = GATE_TLS_STARTTLS;
	}
	if (g->auth && g->auth_needs_loopback && !loopback)
		return err_set(e, ERR_UNAVAILABLE, "refusing to authenticate "
			       "over an unencrypted connection to %s (%s%s is "
			       "not a loopback address; set 'tls on'); nothing "
			       "was sent", g->acct->host, what, peer);
	return 0;
}

/* A TCP connection to host:port with the account's source address,
 * address family and timeout. */
static int gate_net_connect(const struct account *a, const char *host,
			    int port, struct net_conn **c, struct err *e)
{
	struct net_target t;

	memset(&t, 0, sizeof t);
	t.host = host;
	t.port = port;
	t.source_ip = a->source_ip;
	t.family = a->ip_family == CONF_IP_V4 ? AF_INET
		: a->ip_family == CONF_IP_V6 ? AF_INET6 : AF_UNSPEC;
	t.timeout_s = a->timeout;
	return net_connect(&t, c, e);
}

/* The proxy as "host:port" ("[v6]:port"), for messages and the peer. */
static void gate_proxy_name(const struct account *a, char *out, size_t n)
{
	int v6 = strchr(a->proxy_host, ':') != NULL;

	snprintf(out, n, "%s%s%s:%d", v6 ? "[" : "", a->proxy_host,
		 v6 ? "]" : "", a->proxy_port);
}

/* To the proxy, then the SOCKS5 CONNECT to the account's host; every
 * failure names the proxy and is a session failure.  The peer rules are
 * applied to the proxy's address before the proxy is asked for anything,
 * so a refusal never reaches the server.  The peer becomes "via proxy
 * H:P". */
static int gate_connect_proxy(struct gate *g, struct net_conn **c,
			      struct err *e)
{
	const struct account *a = g->acct;
	char name[sizeof (*c)->peer - 16];

	gate_proxy_name(a, name, sizeof name);
	log_debug("connecting to %s, port %d through SOCKS proxy %s",
		  a->host, a->port, name);
	if (gate_net_connect(a, a->proxy_host, a->proxy_port, c, e) < 0) {
		if (e->code == ERR_NOHOST)      /* the proxy's name, not the
						 * server's: unreachable */
			err_recode(e, ERR_TEMPFAIL);
		err_prefix(e, "SOCKS proxy %s", name);
		return -1;
	}
	if (gate_check_peer(g, (*c)->peer, gate_addr_is_loopback((*c)->peer)
			    && gate_addr_is_loopback(a->host), e) < 0)
		return -1;
	if (socks_connect(*c, a->host, a->port, e) < 0) {
		err_prefix(e, "SOCKS proxy %s", name);
		return -1;
	}
	snprintf((*c)->peer, sizeof (*c)->peer, "via proxy %s", name);
	return 0;
}

/* The connection itself (a socket, the proxy, or the host directly) with
 * the peer rules applied.  On failure *c may be open: the caller closes
 * it. */
static int gate_open_link(struct gate *g, struct net_conn **c,
			  struct err *e)
{
	const struct account *a = g->acct;

	if (a->socket && *a->socket) {
		log_debug("connecting to socket %s", a->socket);
		if (net_connect_unix(a->socket, a->timeout, c, e) < 0)
			return -1;
		return gate_check_peer(g, (*c)->peer, 1, e);
	}
	if (gate_proxied(a))
		return gate_connect_proxy(g, c, e);
	log_debug("connecting to %s, port %d", a->host, a->port);
	if (gate_net_connect(a, a->host, a->port, c, e) < 0)
		return -1;
	return gate_check_peer(g, (*c)->peer,
			       gate_addr_is_loopback((*c)->peer), e);
}

int gate_connect(struct gate *g, struct net_conn **c, struct err *e)
{
	*c = NULL;
	if (g->acct == NULL)
		return err_set(e, ERR_SOFTWARE, "connection without a policy");
	if (gate_open_link(g, c, e) < 0) {
		net_close(*c);
		*c = NULL;
		return -1;
	}
	return 0;
}

void gate_close(struct gate *g)
{
	free(g->netrc_user);
	g->netrc_user = NULL;
	secret_free(g->password);
	g->password = NULL;
}
