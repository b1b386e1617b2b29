/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz target: the OAuth2 provider's answers (src/oauth.c; JSON by
 * json-c): token answers (oauth_parse_token_answer), what refresh, device
 * polling and the code grant all read, and the device authorization
 * answer (oauth_parse_device_answer).  No HTTP: the answer is the input.
 *
 * Input: a byte choosing the HTTP status and which answer, then the body.
 * Invariants for the device answer: what the user is told is printable
 * text in lines, and the interval at least 1 s.  For a token answer: an
 * accepted answer yields an access token the token store accepts (1 to
 * SECRET_MAX printable ASCII bytes; likewise a new refresh token), the
 * very string the provider sent (json-c's length: nothing cut), and an
 * expiry no earlier than now; a refusal has one of the documented exit
 * codes and one line of printable text (the provider's words are
 * quoted, never echoed raw to the terminal), and leaves the old tokens.
 */
#include "config.h"
#include "fuzzkit.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "oauth.h"
#include "oauth_store.h"
#include "secret.h"

static void foauth_token_ok(const struct secret *s)
{
	size_t i;

	FUZZ_CHECK(s != NULL && s->len >= 1 && s->len <= SECRET_MAX);
	for (i = 0; i < s->len; i++)
		FUZZ_CHECK((unsigned char)s->p[i] >= 0x20
			   && (unsigned char)s->p[i] <= 0x7e);
}

/* The accepted token is the provider's string, all of it (json-c's
 * length, so a "\u0000" inside cannot cut it). */
static void foauth_same_as_json(const char *body, size_t n, const char *key,
				const struct secret *got, int may_be_old)
{
	json_tokener *tok = json_tokener_new();
	json_object *o, *v;

	if (tok == NULL)
		return;
	o = json_tokener_parse_ex(tok, body, (int)n);
	json_tokener_free(tok);
	if (o != NULL && json_object_is_type(o, json_type_object)
	    && json_object_object_get_ex(o, key, &v)
	    && json_object_is_type(v, json_type_string)
	    && json_object_get_string_len(v) > 0) {
		FUZZ_CHECK(got != NULL);
		FUZZ_CHECK(got->len == (size_t)json_object_get_string_len(v));
		FUZZ_CHECK(memcmp(got->p, json_object_get_string(v), got->len) == 0);
	} else {
		FUZZ_CHECK(may_be_old);
	}
	json_object_put(o);
}

static void foauth_check_msg(const struct err *e)
{
	size_t i;

	FUZZ_CHECK(e->code == ERR_TEMPFAIL || e->code == ERR_PROTOCOL
		   || e->code == ERR_NOPERM || e->code == ERR_CONFIG
		   || e->code == ERR_OSERR);
	FUZZ_CHECK(e->msg[0] != '\0');
	for (i = 0; e->msg[i]; i++)
		FUZZ_CHECK((unsigned char)e->msg[i] >= 0x20 && e->msg[i] != 0x7f);
}

/* The device authorization answer: printable lines for the user. */
static void foauth_device(const struct account *acct, long status,
			  const char *body, size_t n)
{
	char *text = NULL;
	size_t len = 0, i;
	struct err e;
	int interval = 0, r;
	FILE *out = open_memstream(&text, &len);

	if (out == NULL)
		return;
	err_init(&e);
	r = oauth_parse_device_answer(acct, status, body, n, out, &interval, &e);
	fclose(out);
	if (r == 0) {
		FUZZ_CHECK(status == 200 && interval >= 1);
		for (i = 0; i < len; i++)
			FUZZ_CHECK(text[i] == '\n'
				   || ((unsigned char)text[i] >= 0x20
				       && text[i] != 0x7f));
	} else {
		foauth_check_msg(&e);
		FUZZ_CHECK(len == 0);
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = { 200, 200, 400, 401, 403, 500, 503, 302 };
	static struct account *acct;
	struct oauth_tokens t;
	struct fuzz_in in;
	struct err e;
	long status;
	time_t before = time(NULL);
	int r, i;

	if (acct == NULL && (acct = conf_account_new("fuzz")) == NULL)
		return 0;
	fuzz_in_init(&in, data, size);
	i = (int)fuzz_byte(&in);
	status = statuses[i % 8];
	if (i & 8) {
		foauth_device(acct, status, (const char *)in.p, in.n);
		return 0;
	}
	memset(&t, 0, sizeof t);
	t.refresh = secret_new("old-refresh", 11);
	err_init(&e);
	r = oauth_parse_token_answer(acct, status, (const char *)in.p, in.n,
				     "token refresh", &t, &e);
	if (r == 0) {
		FUZZ_CHECK(status == 200 && !err_isset(&e));
		foauth_token_ok(t.access);
		foauth_token_ok(t.refresh);
		foauth_same_as_json((const char *)in.p, in.n, "access_token",
				    t.access, 0);
		if (!(t.refresh->len == 11
		      && memcmp(t.refresh->p, "old-refresh", 11) == 0))
			foauth_same_as_json((const char *)in.p, in.n,
					    "refresh_token", t.refresh, 0);
		FUZZ_CHECK(t.expires_at >= (long long)before);
	} else {
		foauth_check_msg(&e);
		FUZZ_CHECK(t.refresh != NULL && t.refresh->len == 11
			   && memcmp(t.refresh->p, "old-refresh", 11) == 0);
	}
	oauth_tokens_clear(&t);
	return 0;
}
