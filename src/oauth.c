/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "oauth.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "oauth_store.h"

/* Largest answer we take from a provider (tokens are a few KiB). */
#define OAUTH_RESPONSE_MAX (1024 * 1024)
/* Longest request line the redirect listener reads. */
#define OAUTH_REQUEST_MAX 8192
/* Room for a form or URL carrying a token or a long query. */
#define OAUTH_FORM_MAX (4 * SECRET_MAX)
/* Longest provider message quoted in an error. */
#define OAUTH_REASON_MAX 300

struct oauth_http {
	long status;
	struct buf body;        /* may hold tokens: wiped by buf_free */
	int write_errno;        /* why the body could not be kept */
};

/* ---- small helpers ------------------------------------------------------ */

static int oauth_timeout(const struct account *a)
{
	return a->timeout > 0 ? a->timeout : CONF_DEFAULT_TIMEOUT;
}

/* RFC 3986 unreserved characters stay, every other byte becomes %XX
 * (application/x-www-form-urlencoded and query strings alike). */
static int oauth_append_escaped(struct buf *b, const char *v)
{
	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;
		int r = isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~'
			? buf_append_byte(b, (char)c) : buf_printf(b, "%%%02X", c);

		if (r < 0)
			return -1;
	}
	return 0;
}

/* key=value&... (the first without '&'). */
static int oauth_param(struct buf *b, const char *key, const char *value)
{
	if (value == NULL)
		return 0;
	if ((b->len > 0 && buf_append_byte(b, '&') < 0)
	    || buf_append_str(b, key) < 0 || buf_append_byte(b, '=') < 0)
		return -1;
	return oauth_append_escaped(b, value);
}

/* The provider's text for messages: control bytes made harmless, cut. */
static void oauth_clean(char *dst, size_t n, const char *src)
{
	size_t i;

	for (i = 0; src && src[i] && i + 1 < n && i < OAUTH_REASON_MAX; i++)
		dst[i] = ((unsigned char)src[i] < 0x20 || src[i] == 0x7f)
			? '?' : src[i];
	dst[i] = '\0';
}

/* Fill p with n characters from the unreserved set, from the system's
 * secure random source (PKCE verifiers and states are secrets). */
static int oauth_random_text(char *p, size_t n, struct err *e)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		"0123456789-._~";
	unsigned char raw[128];
	size_t i;

	if (n >= sizeof raw || gnutls_rnd(GNUTLS_RND_KEY, raw, n) < 0)
		return err_set(e, ERR_OSERR, "no random numbers for OAuth2");
	for (i = 0; i < n; i++)
		p[i] = set[raw[i] % (sizeof set - 1)];
	p[n] = '\0';
	buf_wipe(raw, sizeof raw);
	return 0;
}

/* BASE64URL(SHA256(verifier)) without padding (RFC 7636 4.2). */
static int oauth_pkce_challenge(const char *verifier, char *out, size_t n,
				struct err *e)
{
	unsigned char digest[32];
	gnutls_datum_t in, enc;
	size_t i, o = 0;

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, verifier, strlen(verifier),
			     digest) < 0)
		return err_set(e, ERR_SOFTWARE, "SHA-256 failed");
	in.data = digest;
	in.size = sizeof digest;
	if (gnutls_base64_encode2(&in, &enc) < 0)
		return err_set(e, ERR_OSERR, "out of memory");
	for (i = 0; i < enc.size && o + 1 < n; i++) {
		char c = (char)enc.data[i];

		if (c == '=')
			break;
		out[o++] = c == '+' ? '-' : c == '/' ? '_' : c;
	}
	out[o] = '\0';
	gnutls_free(enc.data);
	return 0;
}

/* ---- HTTPS -------------------------------------------------------------- */

static size_t oauth_curl_write(char *p, size_t size, size_t n, void *ctx)
{
	struct oauth_http *h = ctx;

	if (buf_append(&h->body, p, size * n) < 0) {
		h->write_errno = errno;
		return 0;
	}
	return size * n;
}

static int oauth_curl_global(struct err *e)
{
	static int done;

	if (!done && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return err_set(e, ERR_OSERR, "cannot initialise libcurl");
	done = 1;
	return 0;
}

/* A transport failure: the provider's certificate refused is 69 (as for a
 * server), anything else (DNS, connect, timeout) is temporary. */
static int oauth_curl_error(const char *url, CURLcode rc, struct err *e)
{
	if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE
	    || rc == CURLE_SSL_ISSUER_ERROR)
		return err_set(e, ERR_UNAVAILABLE, "the OAuth2 provider at %s: "
			       "%s", url, curl_easy_strerror(rc));
	return err_set(e, ERR_TEMPFAIL, "cannot reach the OAuth2 provider at "
		       "%s: %s", url, curl_easy_strerror(rc));
}

/* The account's SOCKS proxy for the provider too, names resolved by the
 * proxy (socks5h), as for the mail server. */
static void oauth_curl_proxy(CURL *c, const struct account *a)
{
	char proxy[600];

	if (a->proxy_host == NULL || *a->proxy_host == '\0')
		return;
	snprintf(proxy, sizeof proxy, "socks5h://%s:%d", a->proxy_host,
		 a->proxy_port ? a->proxy_port : 1080);
	curl_easy_setopt(c, CURLOPT_PROXY, proxy);
}

/* POST a form; the answer's status and body.  Only https:// is spoken,
 * redirects are not followed, the certificate is verified. */
static int oauth_post(const struct account *a, const char *url,
		      const struct buf *form, struct oauth_http *res,
		      struct err *e)
{
	struct curl_slist *hdr;
	CURLcode rc;
	CURL *c;

	buf_init(&res->body, OAUTH_RESPONSE_MAX);
	res->status = 0;
	res->write_errno = 0;
	if (oauth_curl_global(e) < 0)
		return -1;
	c = curl_easy_init();
	hdr = curl_slist_append(NULL, "Accept: application/json");
	if (c == NULL || hdr == NULL) {
		curl_slist_free_all(hdr);
		curl_easy_cleanup(c);
		return err_set(e, ERR_OSERR, "cannot start an HTTPS request");
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, buf_str(form));
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)form->len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, oauth_curl_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, res);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)oauth_timeout(a));
	curl_easy_setopt(c, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	if (a->oauth2_trust_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, a->oauth2_trust_file);
	oauth_curl_proxy(c, a);
	log_debug("OAuth2: POST %s", url);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	if (rc == CURLE_WRITE_ERROR && res->write_errno == ENOMEM)
		return err_set(e, ERR_OSERR, "out of memory");
	if (rc != CURLE_OK)
		return oauth_curl_error(url, rc, e);
	log_debug("OAuth2: HTTP %ld", res->status);
	return 0;
}

/* ---- JSON answers ------------------------------------------------------- */

static json_object *oauth_json(const struct oauth_http *h)
{
	json_tokener *tok = json_tokener_new();
	json_object *o;

	if (tok == NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, buf_str(&h->body), (int)h->body.len);
	json_tokener_free(tok);
	if (o != NULL && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static const char *oauth_json_str(json_object *o, const char *key)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v)
	    || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* A token from the provider's answer, with its JSON length, or NULL when
 * absent or unfit for the token store and a SASL line: tokens are 1 to
 * SECRET_MAX printable ASCII bytes (RFC 6749 A.12, A.17); a "\u0000" or
 * a control byte would be cut or stored refused later (found by
 * fuzzing). */
static const char *oauth_json_token(json_object *o, const char *key,
				    size_t *len)
{
	json_object *v;
	const char *p;
	size_t i;

	if (o == NULL || !json_object_object_get_ex(o, key, &v)
	    || !json_object_is_type(v, json_type_string))
		return NULL;
	p = json_object_get_string(v);
	*len = (size_t)json_object_get_string_len(v);
	if (*len == 0 || *len > SECRET_MAX)
		return NULL;
	for (i = 0; i < *len; i++)
		if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] > 0x7e)
			return NULL;
	return p;
}

/* 1 when o[key] is a string of at least one byte. */
static int oauth_json_nonempty(json_object *o, const char *key)
{
	json_object *v;

	return o != NULL && json_object_object_get_ex(o, key, &v)
		&& json_object_is_type(v, json_type_string)
		&& json_object_get_string_len(v) > 0;
}

/* A number that may come as a JSON number or a numeric string (some
 * providers quote expires_in); def when absent or unusable. */
static long long oauth_json_num(json_object *o, const char *key,
				long long def)
{
	json_object *v;
	long long x;
	char *end;

	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		return def;
	if (json_object_is_type(v, json_type_int))
		x = json_object_get_int64(v);
	else if (json_object_is_type(v, json_type_string)) {
		x = strtoll(json_object_get_string(v), &end, 10);
		if (*end != '\0')
			return def;
	} else {
		return def;
	}
	return x >= 0 && x <= 10LL * 365 * 86400 ? x : def;
}

/* The provider refused (or failed): an error that says what to do. */
static int oauth_refused(const struct account *a, const struct oauth_http *h,
			 json_object *o, const char *what, struct err *e)
{
	const char *raw = oauth_json_str(o, "error");
	char reason[OAUTH_REASON_MAX + 1], code_buf[OAUTH_REASON_MAX + 1];
	/* the error code is the provider's text too: never raw on a
	 * terminal (found by fuzzing) */
	const char *code = raw ? code_buf : NULL;

	oauth_clean(code_buf, sizeof code_buf, raw);
	oauth_clean(reason, sizeof reason, oauth_json_str(o, "error_description"));
	if (h->status >= 500)
		return err_set(e, ERR_TEMPFAIL, "the OAuth2 provider answered %ld "
			       "to the %s; try again later", h->status, what);
	if (code == NULL)
		return err_set(e, ERR_PROTOCOL, "the OAuth2 provider answered the %s "
			       "with HTTP %ld and no OAuth2 error", what, h->status);
	if (strcmp(code, "invalid_grant") == 0)
		return err_set(e, ERR_NOPERM, "the OAuth2 provider refused the %s: "
			       "invalid_grant%s%s%s; log in again with 'msmtp "
			       "--oauth2-login -a %s'", what, *reason ? " (" : "",
			       reason, *reason ? ")" : "", a->name);
	if (strcmp(code, "invalid_client") == 0
	    || strcmp(code, "unauthorized_client") == 0)
		return err_set(e, ERR_CONFIG, "the OAuth2 provider refused the "
			       "client: %s%s%s%s (check oauth2_client_id and "
			       "oauth2_client_secret of account %s)", code,
			       *reason ? " (" : "", reason, *reason ? ")" : "",
			       a->name);
	if (strcmp(code, "expired_token") == 0)
		return err_set(e, ERR_TEMPFAIL, "the sign-in code expired before "
			       "the sign-in finished; run 'msmtp --oauth2-login "
			       "-a %s' again", a->name);
	return err_set(e, ERR_NOPERM, "the OAuth2 provider refused the %s: "
		       "%s%s%s%s", what, code, *reason ? " (" : "", reason,
		       *reason ? ")" : "");
}

/* A token answer (RFC 6749 5.1) into *t: the access token, its expiry,
 * and a new refresh token when one is given (else the old one stays). */
static int oauth_take_tokens(const struct account *a,
			     const struct oauth_http *h, const char *what,
			     struct oauth_tokens *t, struct err *e)
{
	json_object *o = oauth_json(h);
	const char *access, *refresh;
	size_t alen = 0, rlen = 0;
	int r = -1;

	if (h->status != 200) {
		r = oauth_refused(a, h, o, what, e);
		goto done;
	}
	access = oauth_json_token(o, "access_token", &alen);
	refresh = oauth_json_token(o, "refresh_token", &rlen);
	/* an empty or absent refresh token keeps the old one; a present
	 * one that is unfit is a bad answer */
	if (access == NULL
	    || (refresh == NULL && oauth_json_nonempty(o, "refresh_token"))) {
		err_set(e, ERR_PROTOCOL, "the OAuth2 provider's answer to the %s "
			"has no usable access_token or refresh_token", what);
		goto done;
	}
	secret_free(t->access);
	t->access = secret_new(access, alen);
	if (refresh) {
		secret_free(t->refresh);
		t->refresh = secret_new(refresh, rlen);
	}
	t->expires_at = (long long)time(NULL)
		+ oauth_json_num(o, "expires_in", 3600);
	if (t->access == NULL || (refresh && t->refresh == NULL)) {
		err_set(e, ERR_OSERR, "out of memory");
		goto done;
	}
	r = 0;
done:
	json_object_put(o);
	return r;
}

int oauth_parse_token_answer(const struct account *a, long status,
			     const char *body, size_t len, const char *what,
			     struct oauth_tokens *t, struct err *e)
{
	struct oauth_http h;
	int r;

	h.status = status;
	buf_init(&h.body, OAUTH_RESPONSE_MAX);
	if (buf_append(&h.body, body, len) < 0) {
		buf_free(&h.body);
		return err_set(e, ERR_PROTOCOL, "the OAuth2 provider's answer "
			       "to the %s is too large", what);
	}
	r = oauth_take_tokens(a, &h, what, t, e);
	buf_free(&h.body);
	return r;
}

/* client_id, and client_secret when the account has one. */
static int oauth_client_params(const struct account *a, struct buf *f)
{
	return oauth_param(f, "client_id", a->oauth2_client_id) < 0
		|| oauth_param(f, "client_secret", a->oauth2_client_secret) < 0
		? -1 : 0;
}

/* ---- the refresh grant -------------------------------------------------- */

static int oauth_refresh(const struct account *a, struct oauth_tokens *t,
			 struct err *e)
{
	struct oauth_http h;
	struct buf f;
	int r;

	if (t->refresh == NULL)
		return err_set(e, ERR_CONFIG, "account %s has no OAuth2 refresh "
			       "token; log in again with 'msmtp --oauth2-login "
			       "-a %s'", a->name, a->name);
	buf_init(&f, OAUTH_FORM_MAX);
	if (oauth_param(&f, "grant_type", "refresh_token") < 0
	    || oauth_param(&f, "refresh_token", t->refresh->p) < 0
	    || oauth_client_params(a, &f) < 0
	    || oauth_param(&f, "scope", a->oauth2_scope) < 0) {
		buf_free(&f);
		return err_set(e, ERR_OSERR, "out of memory");
	}
	log_debug("OAuth2: refreshing the access token of account %s", a->name);
	r = oauth_post(a, a->oauth2_token_endpoint, &f, &h, e);
	buf_free(&f);
	if (r == 0)
		r = oauth_take_tokens(a, &h, "refresh token", t, e);
	buf_free(&h.body);
	return r;
}

/* Valid for longer than the margin. */
static int oauth_still_valid(const struct account *a,
			     const struct oauth_tokens *t)
{
	return t->access != NULL
		&& t->expires_at - (long long)time(NULL)
		> (long long)a->oauth2_refresh_margin;
}

static int oauth_same(const struct secret *x, const struct secret *y)
{
	return x && y && x->len == y->len && memcmp(x->p, y->p, x->len) == 0;
}

/* Under the lock: reload; another process may have refreshed already
 * (then its token is used), else refresh and store. */
static int oauth_locked_refresh(const struct account *a,
				struct oauth_store *st,
				const struct secret *refused,
				struct oauth_tokens *t, int *fresh,
				struct err *e)
{
	int r;

	if (oauth_store_lock(st, oauth_timeout(a), e) < 0)
		return -1;
	oauth_tokens_clear(t);
	r = oauth_store_load(st, t, e);
	if (r == 0)
		err_set(e, ERR_CONFIG, "account %s has no OAuth2 login any more; "
			"run 'msmtp --oauth2-login -a %s'", a->name, a->name);
	if (r == 1 && oauth_still_valid(a, t)
	    && (refused == NULL || !oauth_same(t->access, refused))) {
		oauth_store_unlock(st);
		return 0;
	}
	if (r == 1 && oauth_refresh(a, t, e) == 0
	    && oauth_store_save(st, t, e) == 0)
		*fresh = 1;
	oauth_store_unlock(st);
	return *fresh ? 0 : -1;
}

/* The account's store and its login: 1 loaded, -1 with err (no login
 * yet is ERR_CONFIG saying what to run). */
static int oauth_open_login(const struct account *a, struct oauth_store **st,
			    struct oauth_tokens *t, struct err *e)
{
	int r;

	if (oauth_store_open(a, st, e) < 0)
		return -1;
	r = oauth_store_load(*st, t, e);
	if (r == 0)
		err_set(e, ERR_CONFIG, "account %s has no OAuth2 login yet: run "
			"'msmtp --oauth2-login -a %s'", a->name, a->name);
	return r == 1 ? 1 : -1;
}

int oauth_token(const struct account *a, int force, struct secret **tok,
		int *fresh, struct err *e)
{
	struct oauth_tokens t;
	struct oauth_store *st = NULL;
	struct secret *refused = force ? *tok : NULL;
	int r;

	memset(&t, 0, sizeof t);
	*fresh = 0;
	r = oauth_open_login(a, &st, &t, e);
	if (r == 1 && (force || !oauth_still_valid(a, &t)))
		r = oauth_locked_refresh(a, st, refused, &t, fresh, e) == 0
			? 1 : -1;
	if (r == 1) {
		secret_free(*tok);
		*tok = secret_new(t.access->p, t.access->len);
		if (*tok == NULL)
			r = err_set(e, ERR_OSERR, "out of memory");
	}
	oauth_tokens_clear(&t);
	oauth_store_close(st);
	return r == 1 ? 0 : -1;
}

/* ---- the device grant (RFC 8628) ---------------------------------------- */

static void oauth_sleep(int secs)
{
	struct timespec ts = { secs, 0 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

struct oauth_device {
	struct buf device_code;         /* a credential until redeemed */
	int interval;
	time_t deadline;
};

/* The provider's answer to the device authorization request (RFC 8628
 * 3.2) into *d, and the user told where to sign in.  The URI and the code
 * are the provider's text: control bytes are shown as '?' (found by
 * fuzzing: the same rule as its error texts). */
static int oauth_device_answer(const struct account *a,
			       const struct oauth_http *h, FILE *out,
			       struct oauth_device *d, struct err *e)
{
	json_object *o = oauth_json(h);
	const char *code, *user, *uri;
	char user_shown[OAUTH_REASON_MAX + 1], uri_shown[OAUTH_REASON_MAX + 1];
	long long expires;
	int r = -1;

	code = oauth_json_str(o, "device_code");
	user = oauth_json_str(o, "user_code");
	uri = oauth_json_str(o, "verification_uri");
	if (uri == NULL)        /* Google's older name */
		uri = oauth_json_str(o, "verification_url");
	if (h->status != 200) {
		oauth_refused(a, h, o, "device authorization request", e);
		goto done;
	}
	if (code == NULL || user == NULL || uri == NULL
	    || buf_append_str(&d->device_code, code) < 0) {
		err_set(e, ERR_PROTOCOL, "the OAuth2 provider's device "
			"authorization answer lacks device_code, user_code or "
			"verification_uri");
		goto done;
	}
	oauth_clean(user_shown, sizeof user_shown, user);
	oauth_clean(uri_shown, sizeof uri_shown, uri);
	expires = oauth_json_num(o, "expires_in", 900);
	d->interval = (int)oauth_json_num(o, "interval", 5);
	if (d->interval < 1)
		d->interval = 1;
	d->deadline = time(NULL) + (time_t)expires;
	fprintf(out, "To sign in to account %s, open %s\nand enter the code %s\n"
		"Waiting for the sign-in (the code expires in %lld minutes)...\n",
		a->name, uri_shown, user_shown, (expires + 59) / 60);
	fflush(out);
	r = 0;
done:
	json_object_put(o);
	return r;
}

int oauth_parse_device_answer(const struct account *a, long status,
			      const char *body, size_t len, FILE *out,
			      int *interval, struct err *e)
{
	struct oauth_device d;
	struct oauth_http h;
	int r;

	memset(&d, 0, sizeof d);
	buf_init(&d.device_code, OAUTH_FORM_MAX);
	h.status = status;
	buf_init(&h.body, OAUTH_RESPONSE_MAX);
	if (buf_append(&h.body, body, len) < 0)
		r = err_set(e, ERR_PROTOCOL, "the OAuth2 provider's device "
			    "authorization answer is too large");
	else
		r = oauth_device_answer(a, &h, out, &d, e);
	*interval = d.interval;
	buf_free(&d.device_code);
	buf_free(&h.body);
	return r;
}

/* Ask for a user code and show the user where to enter it. */
static int oauth_device_start(const struct account *a, FILE *out,
			      struct oauth_device *d, struct err *e)
{
	struct oauth_http h;
	struct buf f;
	int r;

	buf_init(&f, OAUTH_FORM_MAX);
	if (oauth_param(&f, "client_id", a->oauth2_client_id) < 0
	    || oauth_param(&f, "scope", a->oauth2_scope) < 0) {
		buf_free(&f);
		return err_set(e, ERR_OSERR, "out of memory");
	}
	r = oauth_post(a, a->oauth2_device_endpoint, &f, &h, e);
	buf_free(&f);
	if (r == 0)
		r = oauth_device_answer(a, &h, out, d, e);
	buf_free(&h.body);
	return r;
}

/* One poll: 1 tokens in *t, 0 not yet (interval maybe raised), -1 error. */
static int oauth_device_poll(const struct account *a, struct oauth_device *d,
			     struct oauth_tokens *t, struct err *e)
{
	struct oauth_http h;
	json_object *o;
	const char *code;
	struct buf f;
	int r;

	buf_init(&f, OAUTH_FORM_MAX);
	if (oauth_param(&f, "grant_type",
			"urn:ietf:params:oauth:grant-type:device_code") < 0
	    || oauth_param(&f, "device_code", buf_str(&d->device_code)) < 0
	    || oauth_client_params(a, &f) < 0) {
		buf_free(&f);
		return err_set(e, ERR_OSERR, "out of memory");
	}
	r = oauth_post(a, a->oauth2_token_endpoint, &f, &h, e);
	buf_free(&f);
	if (r < 0)
		return -1;
	o = oauth_json(&h);
	code = h.status == 200 ? NULL : oauth_json_str(o, "error");
	if (code && strcmp(code, "authorization_pending") == 0)
		r = 0;
	else if (code && strcmp(code, "slow_down") == 0) {
		d->interval += 5;       /* RFC 8628 3.5 */
		r = 0;
	} else {
		r = oauth_take_tokens(a, &h, "sign-in", t, e) == 0 ? 1 : -1;
	}
	json_object_put(o);
	buf_free(&h.body);
	return r;
}

static int oauth_device_login(const struct account *a, FILE *out,
			      struct oauth_tokens *t, struct err *e)
{
	struct oauth_device d;
	int r;

	memset(&d, 0, sizeof d);
	buf_init(&d.device_code, SECRET_MAX);
	r = oauth_device_start(a, out, &d, e);
	while (r == 0) {
		oauth_sleep(d.interval);
		if (time(NULL) >= d.deadline) {
			r = err_set(e, ERR_TEMPFAIL, "the sign-in code expired "
				    "before the sign-in finished; run 'msmtp "
				    "--oauth2-login -a %s' again", a->name);
			break;
		}
		r = oauth_device_poll(a, &d, t, e);
	}
	buf_free(&d.device_code);
	return r == 1 ? 0 : -1;
}

/* ---- the authorization code grant with PKCE (RFC 7636, RFC 8252) -------- */

/* A listening socket on 127.0.0.1 with a port the system picks. */
static int oauth_listen(int *port, struct err *e)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0
	    || listen(fd, 4) < 0
	    || getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		if (fd >= 0)
			close(fd);
		return err_set(e, ERR_OSERR, "cannot listen on 127.0.0.1 for the "
			       "sign-in: %s", strerror(errno));
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

/* Open the URL in a browser when there is a display (detached, output
 * discarded); the printed URL works either way. */
static void oauth_open_browser(const char *url)
{
	const char *x = getenv("DISPLAY"), *w = getenv("WAYLAND_DISPLAY");
	pid_t pid;

	if ((x == NULL || *x == '\0') && (w == NULL || *w == '\0'))
		return;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		setsid();
		if (fork() != 0)
			_exit(0);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("xdg-open", "xdg-open", url, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
}

/* Read the request line of one connection (bounded, with a deadline). */
static int oauth_read_request(int fd, char *line, size_t n)
{
	size_t got = 0;

	while (got + 1 < n) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t r;
		char *nl;

		if (poll(&p, 1, 10000) <= 0)
			return -1;
		r = read(fd, line + got, n - 1 - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
		line[got] = '\0';
		if ((nl = strstr(line, "\r\n")) != NULL
		    || (nl = strchr(line, '\n')) != NULL) {
			*nl = '\0';
			return 0;
		}
	}
	return -1;
}

static void oauth_reply_page(int fd, const char *status, const char *text)
{
	char page[1024];
	int n = snprintf(page, sizeof page, "HTTP/1.1 %s\r\nContent-Type: "
			 "text/html; charset=utf-8\r\nConnection: close\r\n"
			 "Cache-Control: no-store\r\n\r\n<!DOCTYPE html><html>"
			 "<body><p>%s</p></body></html>\n", status, text);

	if (n > 0 && (size_t)n < sizeof page && write(fd, page, (size_t)n) < 0)
		log_debug("OAuth2: cannot answer the browser");
}

static int oauth_hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
		: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The value of `key` in a query string, percent- and '+'-decoded; -1
 * when absent or malformed. */
static int oauth_query_value(const char *q, const char *key, struct buf *out)
{
	size_t kl = strlen(key);

	buf_reset(out);
	while (q && *q) {
		const char *end = q + strcspn(q, "&");

		if ((size_t)(end - q) > kl && strncmp(q, key, kl) == 0
		    && q[kl] == '=') {
			const char *p;

			for (p = q + kl + 1; p < end; p++) {
				char c = *p;

				if (c == '%') {
					int hi, lo;

					if (end - p < 3 || (hi = oauth_hexval(p[1])) < 0
					    || (lo = oauth_hexval(p[2])) < 0)
						return -1;
					c = (char)(hi * 16 + lo);
					p += 2;
				} else if (c == '+') {
					c = ' ';
				}
				if (c == '\0' || buf_append_byte(out, c) < 0)
					return -1;
			}
			return 0;
		}
		q = *end ? end + 1 : end;
	}
	return -1;
}

struct oauth_code {
	char verifier[65];
	char state[33];
	char redirect[64];
	struct buf code;                /* the authorization code */
};

/* The URL the user opens: the authorization request with PKCE. */
static int oauth_code_url(const struct account *a, const struct oauth_code *c,
			  struct buf *url, struct err *e)
{
	char challenge[64];

	if (oauth_pkce_challenge(c->verifier, challenge, sizeof challenge, e) < 0)
		return -1;
	if (buf_append_str(url, a->oauth2_auth_endpoint) < 0
	    || buf_append_byte(url, strchr(a->oauth2_auth_endpoint, '?')
			       ? '&' : '?') < 0)
		return err_set(e, ERR_OSERR, "out of memory");
	{
		struct buf q;
		int r;

		buf_init(&q, OAUTH_FORM_MAX);
		r = oauth_param(&q, "response_type", "code") < 0
			|| oauth_param(&q, "client_id", a->oauth2_client_id) < 0
			|| oauth_param(&q, "redirect_uri", c->redirect) < 0
			|| oauth_param(&q, "scope", a->oauth2_scope) < 0
			|| oauth_param(&q, "state", c->state) < 0
			|| oauth_param(&q, "code_challenge", challenge) < 0
			|| oauth_param(&q, "code_challenge_method", "S256") < 0
			/* Google issues a refresh token only when asked */
			|| (a->oauth2_provider == CONF_OAUTH2_GOOGLE
			    && (oauth_param(&q, "access_type", "offline") < 0
				|| oauth_param(&q, "prompt", "consent") < 0))
			|| buf_append(url, q.data, q.len) < 0;
		buf_free(&q);
		if (r)
			return err_set(e, ERR_OSERR, "out of memory");
	}
	return 0;
}

/* One request to the listener: 1 the code is in c->code, 0 not the
 * redirect (a favicon...: answered 404, keep waiting), -1 error. */
static int oauth_code_request(const struct account *a, int fd,
			      struct oauth_code *c, struct err *e)
{
	char line[OAUTH_REQUEST_MAX];
	const char *target, *q;
	struct buf v;
	int r = -1;

	if (oauth_read_request(fd, line, sizeof line) < 0)
		return 0;
	if (strncmp(line, "GET /", 5) != 0) {
		oauth_reply_page(fd, "400 Bad Request", "Bad request.");
		return 0;
	}
	target = line + 4;
	if (target[1] != '?' && target[1] != ' ') {
		oauth_reply_page(fd, "404 Not Found", "Not found.");
		return 0;
	}
	q = target[1] == '?' ? target + 2 : "";
	*strchrnul(target, ' ') = '\0';
	buf_init(&v, OAUTH_REQUEST_MAX);
	if (oauth_query_value(q, "state", &v) < 0
	    || strcmp(buf_str(&v), c->state) != 0) {
		oauth_reply_page(fd, "400 Bad Request", "This answer does not "
				 "belong to this sign-in; it was refused.");
		err_set(e, ERR_PROTOCOL, "the sign-in answer does not belong to "
			"this login (wrong state): refused, nothing was redeemed");
	} else if (oauth_query_value(q, "error", &v) == 0) {
		char reason[OAUTH_REASON_MAX + 1];

		oauth_clean(reason, sizeof reason, buf_str(&v));
		oauth_reply_page(fd, "200 OK", "The sign-in was not completed. "
				 "You can close this window.");
		err_set(e, ERR_NOPERM, "the sign-in was refused: %s", reason);
	} else if (oauth_query_value(q, "code", &v) < 0 || v.len == 0
		   || buf_append(&c->code, v.data, v.len) < 0) {
		oauth_reply_page(fd, "400 Bad Request", "No authorization code.");
		err_set(e, ERR_PROTOCOL, "the sign-in answer has no code");
	} else {
		oauth_reply_page(fd, "200 OK", "Signed in. You can close this "
				 "window and return to msmtp.");
		r = 1;
	}
	buf_free(&v);
	(void)a;
	return r;
}

/* Wait for the browser's redirect (or give up at the deadline). */
static int oauth_code_wait(const struct account *a, int lfd,
			   struct oauth_code *c, struct err *e)
{
	time_t deadline = time(NULL) + OAUTH_LOGIN_WAIT;

	for (;;) {
		struct pollfd p = { lfd, POLLIN, 0 };
		long left = (long)(deadline - time(NULL));
		int fd, r;

		if (left <= 0 || poll(&p, 1, (int)(left * 1000)) == 0)
			return err_set(e, ERR_TEMPFAIL, "no sign-in within %d "
				       "minutes; run 'msmtp --oauth2-login -a %s' "
				       "again", OAUTH_LOGIN_WAIT / 60, a->name);
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		r = oauth_code_request(a, fd, c, e);
		close(fd);
		if (r != 0)
			return r > 0 ? 0 : -1;
	}
}

/* Redeem the code with the verifier. */
static int oauth_code_redeem(const struct account *a, struct oauth_code *c,
			     struct oauth_tokens *t, struct err *e)
{
	struct oauth_http h;
	struct buf f;
	int r;

	buf_init(&f, OAUTH_FORM_MAX);
	if (oauth_param(&f, "grant_type", "authorization_code") < 0
	    || oauth_param(&f, "code", buf_str(&c->code)) < 0
	    || oauth_param(&f, "redirect_uri", c->redirect) < 0
	    || oauth_param(&f, "code_verifier", c->verifier) < 0
	    || oauth_client_params(a, &f) < 0) {
		buf_free(&f);
		return err_set(e, ERR_OSERR, "out of memory");
	}
	r = oauth_post(a, a->oauth2_token_endpoint, &f, &h, e);
	buf_free(&f);
	if (r == 0)
		r = oauth_take_tokens(a, &h, "sign-in", t, e);
	buf_free(&h.body);
	return r;
}

static int oauth_code_login(const struct account *a, FILE *out,
			    struct oauth_tokens *t, struct err *e)
{
	struct oauth_code c;
	struct buf url;
	int lfd, port = 0, r = -1;

	memset(&c, 0, sizeof c);
	buf_init(&c.code, OAUTH_REQUEST_MAX);
	buf_init(&url, OAUTH_FORM_MAX);
	lfd = oauth_listen(&port, e);
	if (lfd < 0)
		goto done;
	snprintf(c.redirect, sizeof c.redirect, "http://127.0.0.1:%d/", port);
	if (oauth_random_text(c.verifier, 64, e) < 0
	    || oauth_random_text(c.state, 32, e) < 0
	    || oauth_code_url(a, &c, &url, e) < 0)
		goto done;
	fprintf(out, "To sign in to account %s, open this address in a "
		"browser:\n\n%s\n\nWaiting for the sign-in (%d minutes)...\n",
		a->name, buf_str(&url), OAUTH_LOGIN_WAIT / 60);
	fflush(out);
	oauth_open_browser(buf_str(&url));
	if (oauth_code_wait(a, lfd, &c, e) == 0)
		r = oauth_code_redeem(a, &c, t, e);
done:
	if (lfd >= 0)
		close(lfd);
	buf_free(&url);
	buf_free(&c.code);
	buf_wipe(&c, sizeof c);
	return r;
}

/* ---- login and status --------------------------------------------------- */

int oauth_login(const struct account *a, FILE *out, struct err *e)
{
	struct oauth_tokens t;
	struct oauth_store *st = NULL;
	int r;

	if (a->oauth2_provider == CONF_OAUTH2_NONE)
		return err_set(e, ERR_CONFIG, "account %s does not use OAuth2 (set "
			       "oauth2_provider)", a->name);
	memset(&t, 0, sizeof t);
	if (oauth_store_open(a, &st, e) < 0)
		return -1;
	r = a->oauth2_flow == CONF_OAUTH2_FLOW_DEVICE
		? oauth_device_login(a, out, &t, e) : oauth_code_login(a, out, &t, e);
	if (r == 0 && t.refresh == NULL)
		log_warn("the provider issued no refresh token: the login lasts "
			 "as long as this access token (check the scope: "
			 "offline_access)");
	if (r == 0 && (r = oauth_store_lock(st, oauth_timeout(a), e)) == 0) {
		r = oauth_store_save(st, &t, e);
		oauth_store_unlock(st);
	}
	if (r == 0) {
		fprintf(out, "Signed in: the tokens of account %s are in %s.\n",
			a->name, oauth_store_where(st));
		fflush(out);
	}
	oauth_tokens_clear(&t);
	oauth_store_close(st);
	return r;
}

int oauth_status(const struct account *a, FILE *out, struct err *e)
{
	struct oauth_tokens t;
	struct oauth_store *st = NULL;
	char when[64] = "";
	long long left;
	time_t at;
	struct tm tm;
	int r;

	if (a->oauth2_provider == CONF_OAUTH2_NONE)
		return err_set(e, ERR_CONFIG, "account %s does not use OAuth2 (set "
			       "oauth2_provider)", a->name);
	memset(&t, 0, sizeof t);
	r = oauth_open_login(a, &st, &t, e);
	if (r == 1) {
		at = (time_t)t.expires_at;
		if (localtime_r(&at, &tm) != NULL)
			strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %z", &tm);
		left = t.expires_at - (long long)time(NULL);
		fprintf(out, "account %s: signed in (tokens in %s)\n", a->name,
			oauth_store_where(st));
		if (t.access && left > 0)
			fprintf(out, "access token: valid until %s (%lld "
				"minutes)\n", when, left / 60);
		else
			fprintf(out, "access token: %s%s\n", t.access
				? "expired at " : "none", t.access ? when : "");
		fprintf(out, "refresh token: %s\n", t.refresh ? "stored (the "
			"next send refreshes the access token when needed)"
			: "none: log in again");
	}
	oauth_tokens_clear(&t);
	oauth_store_close(st);
	return r == 1 ? 0 : -1;
}
