/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "sasl.h"

#include <ctype.h>
#include <gsasl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

struct sasl_session {
	char mech[32];
	Gsasl *ctx;
	Gsasl_session *gs;
	const struct sasl_creds *c;
	int oauth_sent;                 /* OAuth payload already answered */
};

/* Preference for `auth on`, strongest first. */
static const char *const sasl_auto[] = {
	"SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1",
	"PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5", NULL
};

static const char *const sasl_known[] = {
	"SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1",
	"PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5", "GSSAPI", "EXTERNAL", "NTLM",
	"XOAUTH2", "OAUTHBEARER", NULL
};

static int sasl_is_oauth(const char *mech)
{
	return strcmp(mech, "XOAUTH2") == 0 || strcmp(mech, "OAUTHBEARER") == 0;
}

int sasl_needs_password(const char *setting)
{
	return strcasecmp(setting, "external") != 0
		&& strcasecmp(setting, "gssapi") != 0;
}

int sasl_choose(const char *setting, const char *offered, int have_cb,
		char *mech, size_t n, struct err *e)
{
	size_t i;

	/* an OAuth2 account: the standard mechanism when offered */
	if (strcmp(setting, "oauth") == 0) {
		const char *m = buf_has_word(offered, "OAUTHBEARER") ? "OAUTHBEARER"
			: buf_has_word(offered, "XOAUTH2") ? "XOAUTH2" : NULL;

		if (m == NULL)
			return err_set(e, ERR_UNAVAILABLE, "the server offers no "
				       "OAuth2 mechanism (OAUTHBEARER, XOAUTH2; "
				       "offered: %s)", *offered ? offered : "none");
		snprintf(mech, n, "%s", m);
		return 0;
	}
	if (strcasecmp(setting, "on") != 0) {
		char want[32];

		for (i = 0; setting[i] && i + 1 < sizeof want; i++)
			want[i] = (char)toupper((unsigned char)setting[i]);
		want[i] = '\0';
		for (i = 0; sasl_known[i] && strcmp(sasl_known[i], want); i++)
			;
		if (sasl_known[i] == NULL)
			return err_set(e, ERR_UNAVAILABLE, "authentication method "
				       "%s is not supported", want);
		if (!buf_has_word(offered, want))
			return err_set(e, ERR_UNAVAILABLE, "the server does not "
				       "offer authentication method %s (offered: %s)",
				       want, *offered ? offered : "none");
		if (strstr(want, "-PLUS") && !have_cb)
			return err_set(e, ERR_UNAVAILABLE, "%s needs TLS channel "
				       "binding, which this connection does not "
				       "provide", want);
		snprintf(mech, n, "%s", want);
		return 0;
	}
	for (i = 0; sasl_auto[i]; i++) {
		if (strstr(sasl_auto[i], "-PLUS") && !have_cb)
			continue;
		if (buf_has_word(offered, sasl_auto[i])) {
			snprintf(mech, n, "%s", sasl_auto[i]);
			return 0;
		}
	}
	return err_set(e, ERR_UNAVAILABLE, "no usable authentication method "
		       "(the server offers: %s)", *offered ? offered : "none");
}

static int sasl_gerr(int rc, const char *what, struct err *e)
{
	return err_set(e, ERR_SOFTWARE, "SASL %s: %s", what, gsasl_strerror(rc));
}

static int sasl_set_cb(struct sasl_session *s, struct err *e)
{
	char *b64 = NULL;
	size_t len;
	int rc;

	if (s->c->cb_type == SASL_CB_NONE || s->c->cb_data == NULL)
		return 0;
	rc = gsasl_base64_to((const char *)s->c->cb_data, s->c->cb_len, &b64, &len);
	if (rc != GSASL_OK)
		return sasl_gerr(rc, "channel binding", e);
	gsasl_property_set(s->gs, s->c->cb_type == SASL_CB_TLS_EXPORTER
			   ? GSASL_CB_TLS_EXPORTER : GSASL_CB_TLS_UNIQUE, b64);
	free(b64);
	return 0;
}

struct sasl_session *sasl_start(const char *mech, const struct sasl_creds *c,
				struct err *e)
{
	struct sasl_session *s = calloc(1, sizeof *s);
	int rc;

	if (s == NULL) {
		err_set(e, ERR_OSERR, "out of memory");
		return NULL;
	}
	snprintf(s->mech, sizeof s->mech, "%s", mech);
	s->c = c;
	if (sasl_is_oauth(mech))
		return s;
	if ((rc = gsasl_init(&s->ctx)) != GSASL_OK
	    || (rc = gsasl_client_start(s->ctx, mech, &s->gs)) != GSASL_OK) {
		sasl_gerr(rc, mech, e);
		sasl_end(s);
		return NULL;
	}
	if (c->user)
		gsasl_property_set(s->gs, GSASL_AUTHID, c->user);
	if (c->password)
		gsasl_property_set(s->gs, GSASL_PASSWORD, c->password->p);
	gsasl_property_set(s->gs, GSASL_SERVICE, "smtp");
	if (c->host)
		gsasl_property_set(s->gs, GSASL_HOSTNAME, c->host);
	/* libgsasl refuses a non-PLUS SCRAM exchange when channel binding
	 * data is present, so it is given to the -PLUS mechanisms only */
	if (strstr(mech, "-PLUS") != NULL && sasl_set_cb(s, e) < 0) {
		sasl_end(s);
		return NULL;
	}
	return s;
}

/* The OAuth payloads: XOAUTH2 (Google/Microsoft) and RFC 7628. */
static int sasl_oauth_payload(struct sasl_session *s, char **out,
			      struct err *e)
{
	struct buf b;
	size_t len;
	int rc;

	buf_init(&b, SECRET_MAX + 1024);
	if (strcmp(s->mech, "XOAUTH2") == 0)
		rc = buf_printf(&b, "user=%s\001auth=Bearer %s\001\001",
				s->c->user ? s->c->user : "",
				s->c->password ? s->c->password->p : "");
	else
		rc = buf_printf(&b, "n,a=%s,\001host=%s\001port=%d\001auth=Bearer "
				"%s\001\001", s->c->user ? s->c->user : "",
				s->c->host ? s->c->host : "", s->c->port,
				s->c->password ? s->c->password->p : "");
	if (rc < 0) {
		err_set_buf(e, ERR_CONFIG, "OAuth token too long");
		buf_free(&b);
		return -1;
	}
	rc = gsasl_base64_to(b.data, b.len, out, &len);
	buf_free(&b);
	return rc == GSASL_OK ? 0 : sasl_gerr(rc, "base64", e);
}

/* Mechanisms that send a client-first message with the AUTH command. */
static int sasl_client_first(const char *mech)
{
	return strcmp(mech, "PLAIN") == 0 || strcmp(mech, "EXTERNAL") == 0
		|| strncmp(mech, "SCRAM-", 6) == 0 || strcmp(mech, "GSSAPI") == 0
		|| strcmp(mech, "OAUTHBEARER") == 0;
}

int sasl_initial(struct sasl_session *s, char **out, struct err *e)
{
	int rc;

	*out = NULL;
	if (!sasl_client_first(s->mech))
		return 0;
	if (sasl_is_oauth(s->mech)) {
		s->oauth_sent = 1;
		return sasl_oauth_payload(s, out, e);
	}
	rc = gsasl_step64(s->gs, "", out);
	if (rc != GSASL_OK && rc != GSASL_NEEDS_MORE)
		return sasl_gerr(rc, s->mech, e);
	if (*out == NULL && (*out = strdup("")) == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	return 0;
}

int sasl_step(struct sasl_session *s, const char *challenge, char **out,
	      struct err *e)
{
	int rc;

	*out = NULL;
	if (sasl_is_oauth(s->mech)) {
		/* XOAUTH2 sends the token after the first (empty) challenge;
		 * after a failure both answer the error challenge with an
		 * empty response (XOAUTH2) or ^A (RFC 7628 3.2.3). */
		if (!s->oauth_sent) {
			s->oauth_sent = 1;
			return sasl_oauth_payload(s, out, e);
		}
		*out = strdup(strcmp(s->mech, "XOAUTH2") == 0 ? "" : "AQ==");
		return *out ? 0 : err_set(e, ERR_OSERR, "out of memory");
	}
	rc = gsasl_step64(s->gs, challenge, out);
	if (rc != GSASL_OK && rc != GSASL_NEEDS_MORE)
		return sasl_gerr(rc, s->mech, e);
	if (*out == NULL && (*out = strdup("")) == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	return 0;
}

void sasl_free_response(char *r)
{
	if (r == NULL)
		return;
	buf_wipe(r, strlen(r));
	free(r);
}

void sasl_end(struct sasl_session *s)
{
	if (s == NULL)
		return;
	if (s->gs)
		gsasl_finish(s->gs);
	if (s->ctx)
		gsasl_done(s->ctx);
	free(s);
}
