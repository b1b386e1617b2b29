/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * oauth - OAuth2 access tokens for SMTP AUTH (XOAUTH2, OAUTHBEARER),
 * built in: log in once, then every send gets a fresh token silently.
 *
 * Login: the device authorization grant (RFC 8628: verification URI and
 * user code printed, polling no faster than `interval`, 5 s more after
 * slow_down, given up at expires_in) or the authorization code grant with
 * PKCE S256 (RFC 7636) and a loopback redirect listener on 127.0.0.1 with
 * a random port and a `state` check (RFC 8252).  Sends: the stored access
 * token while it is valid for longer than oauth2_refresh_margin, else a
 * refresh under the store's lock (concurrent sends refresh once; a rotated
 * refresh token replaces the old one).  HTTPS through libcurl (GnuTLS
 * build; oauth2_trust_file or the system CAs; the account's SOCKS proxy
 * with remote name resolution), JSON through json-c.  Tokens never reach
 * a log, --debug or a message.
 *
 * Exit codes: no login yet, or a login without a refresh token, 78;
 * invalid_grant (a revoked or expired refresh token; Microsoft's AADSTS
 * reasons are quoted) and access_denied 77; the device code expired 75;
 * a sign-in answer with the wrong `state` 76; the provider unreachable or
 * answering 5xx 75; its certificate refused 69; invalid_client 78.  For
 * the queue every one of them is a session failure: mail waits.
 */
#ifndef MSMTP_OAUTH_H
#define MSMTP_OAUTH_H

#include <stdio.h>
#include "conf.h"
#include "err.h"
#include "oauth_store.h"
#include "secret.h"

/* How long --oauth2-login waits for the browser's redirect. */
#define OAUTH_LOGIN_WAIT 600

/* The access token for a send.  `force`: the server refused a token that
 * looked valid: refresh whatever its expiry says.  *fresh = 1 when the
 * token comes straight from the provider. */
int oauth_token(const struct account *a, int force, struct secret **tok,
		int *fresh, struct err *e);
/* --oauth2-login: run the account's flow, talking to the user on out. */
int oauth_login(const struct account *a, FILE *out, struct err *e);
/* --oauth2-status: whether a login exists and when the access token
 * expires (never a token).  No login: -1 with ERR_CONFIG. */
int oauth_status(const struct account *a, FILE *out, struct err *e);

/* The provider's answer to a token request (RFC 6749 5.1 and 5.2) as
 * every grant reads it: HTTP status and body into *t (the access token,
 * its expiry, a rotated refresh token; the rest of *t is kept), or the
 * refusal as an error with the exit codes above.  (Exposed for the fuzz
 * target; the HTTP exchange stays inside.) */
int oauth_parse_token_answer(const struct account *a, long status,
			     const char *body, size_t len, const char *what,
			     struct oauth_tokens *t, struct err *e);
/* The answer to the device authorization request (RFC 8628 3.2) as
 * --oauth2-login reads it: where to sign in and the code are told on out;
 * *interval is the polling interval taken (seconds, at least 1).
 * (Exposed for the fuzz target.) */
int oauth_parse_device_answer(const struct account *a, long status,
			      const char *body, size_t len, FILE *out,
			      int *interval, struct err *e);

#endif
