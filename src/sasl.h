/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * sasl - SMTP AUTH mechanisms (RFC 4954, 4422): choice and exchange.
 *
 * libgsasl does SCRAM-SHA-256(-PLUS), SCRAM-SHA-1(-PLUS), PLAIN, LOGIN,
 * CRAM-MD5, DIGEST-MD5, GSSAPI, EXTERNAL and NTLM; XOAUTH2 and OAUTHBEARER
 * (RFC 7628) are built here, the token being the password.  Every payload
 * is base64 text the caller puts on the wire marked secret; the caller
 * wipes responses with sasl_free_response().
 *
 * `auth on` picks, among what the server offers: SCRAM-SHA-256-PLUS and
 * SCRAM-SHA-1-PLUS (when channel binding data is available), SCRAM-SHA-256,
 * SCRAM-SHA-1, PLAIN, LOGIN, CRAM-MD5, DIGEST-MD5.  GSSAPI, EXTERNAL, NTLM
 * and the OAuth mechanisms are used only when named.  The caller refuses
 * authentication over an unencrypted non-loopback link before this.
 */
#ifndef MSMTP_SASL_H
#define MSMTP_SASL_H

#include <stddef.h>
#include "err.h"
#include "secret.h"

enum sasl_cb { SASL_CB_NONE, SASL_CB_TLS_UNIQUE, SASL_CB_TLS_EXPORTER };

struct sasl_creds {
	const char *user;
	const struct secret *password;  /* password or OAuth token; may be NULL */
	const char *host;
	int port;
	enum sasl_cb cb_type;
	const unsigned char *cb_data;   /* raw channel binding bytes */
	size_t cb_len;
};

/* Pick the mechanism: `setting` is "on", a method name (any case), or
 * "oauth" (an OAuth2 account with auth on: OAUTHBEARER when offered, else
 * XOAUTH2);
 * `offered` the server's space-separated AUTH list.  No usable mechanism:
 * ERR_UNAVAILABLE naming what was offered.  mech receives upper case. */
int sasl_choose(const char *setting, const char *offered, int have_cb,
		char *mech, size_t n, struct err *e);
/* 1 if the mechanism needs a password (or token). */
int sasl_needs_password(const char *setting);

struct sasl_session;
struct sasl_session *sasl_start(const char *mech, const struct sasl_creds *c,
				struct err *e);
/* The initial response (RFC 4954 4) as base64, "" for an empty one, or
 * NULL for mechanisms that wait for the server's first challenge. */
int sasl_initial(struct sasl_session *s, char **out, struct err *e);
/* Answer one base64 challenge. */
int sasl_step(struct sasl_session *s, const char *challenge, char **out,
	      struct err *e);
void sasl_free_response(char *r);
void sasl_end(struct sasl_session *s);

#endif
