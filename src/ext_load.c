/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ext_load - in the msmtp binary only: load msmtp-ext.so, msmtp-sasl.so,
 * msmtp-json.so or msmtp-http.so on first use and forward the public functions of the
 * modules they hold (ext.h). */
#include "config.h"
#include "ext.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "discover.h"
#include "log.h"
#include "oauth.h"

#ifndef EXT_DIR
#error EXT_DIR (where the modules are installed) comes from src/Makefile.am
#endif

static const char *const ext_load_names[EXT_PARTS] = {
	[EXT_PART_TLS] = "msmtp-ext.so",
	[EXT_PART_HTTP] = "msmtp-http.so",
	[EXT_PART_SASL] = "msmtp-sasl.so",
	[EXT_PART_JSON] = "msmtp-json.so",
	[EXT_PART_KEYRING] = "msmtp-keyring.so",
};

/* What the hint after a failed load says is in the file. */
static const char *const ext_load_holds[EXT_PARTS] = {
	[EXT_PART_TLS] = "the TLS and IDN code",
	[EXT_PART_HTTP] = "the OAuth2 and --configure code",
	[EXT_PART_SASL] = "the authentication (SASL) code",
	[EXT_PART_JSON] = "the JSON output code",
	[EXT_PART_KEYRING] = "the keyring (libsecret) code",
};

/* Per part: its table once loaded, else the remembered failure (a
 * malloc'd line; a constant when even that failed).  No struct err per
 * part here: 8 KB of zeroes in front of the other variables put them on
 * a page of their own, a page fault on every run. */
static const struct ext_ops *ext_load_ops[EXT_PARTS];
static const char *ext_load_why[EXT_PARTS];

/* The build tree's modules for the build tree's binary (an uninstalled
 * test build), the installed ones for every other binary. */
static const char *ext_load_dir(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);

	if (n > 0) {
		self[n] = '\0';
		if (strcmp(self, EXT_BUILD_EXE) == 0)
			return EXT_BUILD_DIR;
	}
	return EXT_DIR;
}

/* The table of a freshly loaded module, after the version checks. */
static const struct ext_ops *ext_load_table(void *h, enum ext_part part,
					    const char *path, struct err *e)
{
	const struct ext_ops *(*get)(void);
	const struct ext_ops *t;
	void *sym = dlsym(h, EXT_SYMBOL);

	if (sym == NULL) {
		err_set(e, ERR_UNAVAILABLE, "cannot load %s: no %s", path,
			EXT_SYMBOL);
		return NULL;
	}
	memcpy(&get, &sym, sizeof get);
	t = get();
	if (t == NULL || t->abi != EXT_ABI || t->size != sizeof *t
	    || t->part != (unsigned)part || t->version == NULL
	    || strcmp(t->version, PACKAGE_VERSION) != 0) {
		err_set(e, ERR_UNAVAILABLE, "cannot load %s: it belongs to "
			"another version of msmtp (expected %s)", path,
			PACKAGE_VERSION);
		return NULL;
	}
	return t;
}

/* One attempt: open and check, load the checked descriptor, read the
 * table.  The module stays loaded for the rest of the run, and so does
 * its descriptor: the dynamic linker knows a loaded object by the name it
 * was opened by, and a second module opened as the same /proc/self/fd/N
 * (the number of a closed descriptor, used again) would be taken for the
 * first. */
static const struct ext_ops *ext_load_once(enum ext_part part, struct err *e)
{
	char path[PATH_MAX], fdpath[64];
	const struct ext_ops *t;
	const char *why;
	void *h;
	int n = snprintf(path, sizeof path, "%s/%s", ext_load_dir(),
			 ext_load_names[part]);
	int fd;

	if (n < 0 || (size_t)n >= sizeof path) {
		err_set(e, ERR_UNAVAILABLE, "cannot load %s: path too long",
			ext_load_names[part]);
		return NULL;
	}
	if ((fd = ext_open_module(path, e)) < 0)
		return NULL;
	snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", fd);
	h = dlopen(fdpath, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		close(fd);
		why = dlerror();
		err_set(e, ERR_UNAVAILABLE, "cannot load %s: %s", path,
			why ? why : "dlopen failed");
		return NULL;
	}
	t = ext_load_table(h, part, path, e);
	if (t == NULL) {
		dlclose(h);
		close(fd);
	}
	return t;
}

const struct ext_ops *ext_load(enum ext_part part, struct err *e)
{
	if (ext_load_ops[part] != NULL)
		return ext_load_ops[part];
	if (ext_load_why[part] == NULL) {
		struct err le;

		err_init(&le);
		ext_load_ops[part] = ext_load_once(part, &le);
		if (ext_load_ops[part] != NULL)
			return ext_load_ops[part];
		ext_load_why[part] = strdup(le.msg);
		if (ext_load_why[part] == NULL)
			ext_load_why[part] = "cannot load a module: out of memory";
	}
	err_set(e, ERR_UNAVAILABLE, "%s", ext_load_why[part]);
	err_hint(e, "%s is in that file: reinstall msmtp-ng",
		 ext_load_holds[part]);
	return NULL;
}

/* The TLS part's table when it is loaded already, else NULL. */
static const struct ext_ops *ext_load_tls_loaded(void)
{
	return ext_load_ops[EXT_PART_TLS];
}

/* The SASL part's table when it is loaded already, else NULL. */
static const struct ext_ops *ext_load_sasl_loaded(void)
{
	return ext_load_ops[EXT_PART_SASL];
}

/* ---- the stubs: same names and contracts as the real functions ---- */

int ext_idn_to_ascii(const char *in, char **out, const char **why)
{
	const struct ext_ops *t;
	struct err e;
	const char *p;

	*out = NULL;
	*why = NULL;
	for (p = in; *p && (unsigned char)*p < 0x80; p++)
		;
	if (*p == '\0')
		return EXT_IDN_OK;
	err_init(&e);
	if ((t = ext_load(EXT_PART_TLS, &e)) == NULL) {
		*why = ext_load_why[EXT_PART_TLS];
		return EXT_IDN_NOMODULE;
	}
	return t->idn_to_ascii(in, out, why);
}

int tls_start(struct net_conn *c, const struct tls_params *p, struct err *e)
{
	const struct ext_ops *t = ext_load(EXT_PART_TLS, e);

	return t ? t->tls_start(c, p, e) : -1;
}

/* Without the module no handshake was attempted: no peer bytes. */
int tls_peer_spoke_plain(const struct net_conn *c)
{
	return ext_load_tls_loaded() ? ext_load_tls_loaded()->tls_peer_spoke_plain(c) : 0;
}

int tls_describe(struct net_conn *c, struct buf *out)
{
	return ext_load_tls_loaded() ? ext_load_tls_loaded()->tls_describe(c, out) : -1;
}

int tls_channel_binding(struct net_conn *c, int *exporter,
			unsigned char **data, size_t *len)
{
	const struct ext_ops *t = ext_load_tls_loaded();

	if (t == NULL)
		return 0;
	return t->tls_channel_binding(c, exporter, data, len);
}

/* The same rule as sasl.c's, here so that reading an account's password
 * never loads the module on its own. */
int sasl_needs_password(const char *setting)
{
	return strcasecmp(setting, "external") != 0
		&& strcasecmp(setting, "gssapi") != 0;
}

int sasl_choose(const char *setting, const char *offered, int have_cb,
		char *mech, size_t n, struct err *e)
{
	const struct ext_ops *t = ext_load(EXT_PART_SASL, e);

	return t ? t->sasl_choose(setting, offered, have_cb, mech, n, e) : -1;
}

struct sasl_session *sasl_start(const char *mech, const struct sasl_creds *c,
				struct err *e)
{
	const struct ext_ops *t = ext_load(EXT_PART_SASL, e);

	return t ? t->sasl_start(mech, c, e) : NULL;
}

int sasl_initial(struct sasl_session *s, char **out, struct err *e)
{
	const struct ext_ops *t = ext_load(EXT_PART_SASL, e);

	return t ? t->sasl_initial(s, out, e) : -1;
}

int sasl_step(struct sasl_session *s, const char *challenge, char **out,
	      struct err *e)
{
	const struct ext_ops *t = ext_load(EXT_PART_SASL, e);

	return t ? t->sasl_step(s, challenge, out, e) : -1;
}

/* A response or session exists only when the module was loaded. */
void sasl_free_response(char *r)
{
	const struct ext_ops *t = ext_load_sasl_loaded();

	if (t != NULL)
		t->sasl_free_response(r);
}

void sasl_end(struct sasl_session *s)
{
	const struct ext_ops *t = ext_load_sasl_loaded();

	if (t != NULL)
		t->sasl_end(s);
}

int oauth_token(const struct account *a, int force, struct secret **tok,
		int *fresh, struct err *e)
{
	const struct ext_ops *t = ext_load(EXT_PART_HTTP, e);

	return t ? t->oauth_token(a, force, tok, fresh, e) : -1;
}

int oauth_login(const struct account *a, FILE *out, struct err *e)
{
	const struct ext_ops *t = ext_load(EXT_PART_HTTP, e);

	return t ? t->oauth_login(a, out, e) : -1;
}

int oauth_status(const struct account *a, FILE *out, struct err *e)
{
	const struct ext_ops *t = ext_load(EXT_PART_HTTP, e);

	return t ? t->oauth_status(a, out, e) : -1;
}

int discover_configure(const char *address, FILE *out, struct err *e)
{
	const struct ext_ops *t = ext_load(EXT_PART_HTTP, e);

	return t ? t->discover_configure(address, out, e) : -1;
}

/* ---- msmtp-json.so: jsonl_ready() loads it; the rest run after it ---- */

int jsonl_ready(struct err *e)
{
	return ext_load(EXT_PART_JSON, e) != NULL ? 0 : -1;
}

/* The JSON part's table when it is loaded already, else NULL. */
static const struct ext_ops *ext_load_json_loaded(void)
{
	return ext_load_ops[EXT_PART_JSON];
}

struct json_object *jsonl_object_new(void)
{
	const struct ext_ops *t = ext_load_json_loaded();

	return t ? t->jsonl_object_new() : NULL;
}

struct json_object *jsonl_array_new(void)
{
	const struct ext_ops *t = ext_load_json_loaded();

	return t ? t->jsonl_array_new() : NULL;
}

void jsonl_free(struct json_object *o)
{
	const struct ext_ops *t = ext_load_json_loaded();

	if (t != NULL)
		t->jsonl_free(o);
}

int jsonl_array_add(struct json_object *arr, struct json_object *v)
{
	const struct ext_ops *t = ext_load_json_loaded();

	return t ? t->jsonl_array_add(arr, v) : -1;
}

int jsonl_add(struct json_object *o, const char *key, struct json_object *v)
{
	const struct ext_ops *t = ext_load_json_loaded();

	return t ? t->jsonl_add(o, key, v) : -1;
}

int jsonl_add_str(struct json_object *o, const char *key, const char *val)
{
	const struct ext_ops *t = ext_load_json_loaded();

	return t ? t->jsonl_add_str(o, key, val) : -1;
}

int jsonl_add_int(struct json_object *o, const char *key, long long v)
{
	const struct ext_ops *t = ext_load_json_loaded();

	return t ? t->jsonl_add_int(o, key, v) : -1;
}

int jsonl_add_bool(struct json_object *o, const char *key, int v)
{
	const struct ext_ops *t = ext_load_json_loaded();

	return t ? t->jsonl_add_bool(o, key, v) : -1;
}

int jsonl_add_null(struct json_object *o, const char *key)
{
	const struct ext_ops *t = ext_load_json_loaded();

	return t ? t->jsonl_add_null(o, key) : -1;
}

int jsonl_add_time(struct json_object *o, const char *key, time_t when)
{
	const struct ext_ops *t = ext_load_json_loaded();

	return t ? t->jsonl_add_time(o, key, when) : -1;
}

int jsonl_array_add_str(struct json_object *arr, const char *val)
{
	const struct ext_ops *t = ext_load_json_loaded();

	return t ? t->jsonl_array_add_str(arr, val) : -1;
}

char *jsonl_line(struct json_object *o)
{
	const struct ext_ops *t = ext_load_json_loaded();

	return t ? t->jsonl_line(o) : NULL;
}

#ifdef HAVE_LIBSECRET
/* A keyring that cannot be reached is "no password there" (the next
 * source is asked); a module that cannot be loaded says so once. */
int keyring_lookup(const char *host, const char *user, struct secret **out)
{
	struct err e;
	const struct ext_ops *t;

	err_init(&e);
	t = ext_load(EXT_PART_KEYRING, &e);
	if (t == NULL) {
		log_warn("cannot look in the keyring: %s", e.msg);
		return 0;
	}
	return t->keyring_lookup(host, user, out);
}
#endif
