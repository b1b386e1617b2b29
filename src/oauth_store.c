/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "oauth_store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#ifdef HAVE_LIBSECRET
#include <libsecret/secret.h>
#endif

#include "buf.h"

enum oauth_store_kind { OAUTH_STORE_FILE, OAUTH_STORE_KEYRING };

struct oauth_store {
	enum oauth_store_kind kind;
	char *account;          /* the account name, as configured */
	char *dir;              /* the file's directory (keyring: the lock's) */
	char *base;             /* the file's name in dir (keyring: NULL) */
	char *lock;             /* the lock file's name in dir */
	char *where;            /* "the file PATH" or "the keyring" */
	int lockfd;             /* -1 when not locked */
};

/* Longest path this module builds. */
#define OAUTH_PATH_MAX 4096
/* How often a waiting lock is tried again (milliseconds). */
#define OAUTH_LOCK_POLL_MS 50
/* Attempts at a fresh temporary name before giving up. */
#define OAUTH_TMP_TRIES 32
#define OAUTH_LOGIN_HINT "log in again with msmtp --oauth2-login"

static int oauth_oom(struct err *e)
{
	return err_set(e, ERR_OSERR, "out of memory");
}

/* After oauth_join returned NULL: out of memory, or a name too long. */
static int oauth_join_failed(const char *what, struct err *e)
{
	if (errno == E2BIG)
		return err_set(e, ERR_CONFIG, "the OAuth2 token store's %s is "
			       "too long", what);
	return oauth_oom(e);
}

/* malloc'd "a" "b" "c"; NULL on ENOMEM or when longer than
 * OAUTH_PATH_MAX. */
static char *oauth_join(const char *a, const char *b, const char *c)
{
	struct buf p;

	buf_init(&p, OAUTH_PATH_MAX);
	if (buf_append_str(&p, a) < 0 || buf_append_str(&p, b) < 0
	    || buf_append_str(&p, c) < 0) {
		buf_free(&p);
		return NULL;
	}
	return buf_steal(&p);
}

/* ---- names and places --------------------------------------------------- */

static int oauth_name_keeps(unsigned char c, size_t pos)
{
	if (c == '.')
		return pos > 0;
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
		|| (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int oauth_store_file_name(const char *name, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, o = 0, limit;

	limit = outlen > 0 ? outlen - 1 : 0;
	if (limit > OAUTH_STORE_NAME_MAX)
		limit = OAUTH_STORE_NAME_MAX;
	if (name == NULL || name[0] == '\0')
		return -1;
	for (i = 0; name[i] != '\0'; i++) {
		unsigned char c = (unsigned char)name[i];

		if (oauth_name_keeps(c, i)) {
			if (o + 1 > limit)
				return -1;
			out[o++] = (char)c;
			continue;
		}
		if (o + 3 > limit)
			return -1;
		out[o++] = '%';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 15];
	}
	out[o] = '\0';
	return 0;
}

/* $XDG_STATE_HOME/msmtp/oauth2, or $HOME/.local/state/msmtp/oauth2: the
 * XDG base directory spec says a relative value is to be ignored. */
static int oauth_default_dir(char **out, struct err *e)
{
	const char *state = getenv("XDG_STATE_HOME");
	const char *home;

	if (state != NULL && state[0] == '/')
		*out = oauth_join(state, "/msmtp/oauth2", "");
	else if ((home = conf_home_dir()) != NULL)
		*out = oauth_join(home, "/.local/state/msmtp/oauth2", "");
	else
		return err_set(e, ERR_CONFIG, "cannot find the home directory "
			       "for the OAuth2 token store; set "
			       "oauth2_token_store");
	return *out == NULL ? oauth_join_failed("directory name", e) : 0;
}

/* Split a chosen path into directory and file name. */
static int oauth_split_path(struct oauth_store *st, const char *path,
			    struct err *e)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;

	if (base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return err_set(e, ERR_CONFIG, "oauth2_token_store %s names a "
			       "directory, not a file", path);
	if (slash == NULL)
		st->dir = strdup(".");
	else if (slash == path)
		st->dir = strdup("/");
	else
		st->dir = strndup(path, (size_t)(slash - path));
	st->base = strdup(base);
	if (st->dir == NULL || st->base == NULL)
		return oauth_oom(e);
	return 0;
}

/* dir, base, lock and where for a file store (chosen path or default). */
static int oauth_setup_file(struct oauth_store *st, const char *chosen,
			    const char *safe, struct err *e)
{
	struct buf where;
	int r;

	if (chosen != NULL) {
		if (oauth_split_path(st, chosen, e) < 0)
			return -1;
	} else {
		if (oauth_default_dir(&st->dir, e) < 0)
			return -1;
		if ((st->base = oauth_join(safe, ".json", "")) == NULL)
			return oauth_join_failed("file name", e);
	}
	if ((st->lock = oauth_join(st->base, ".lock", "")) == NULL)
		return oauth_join_failed("file name", e);
	buf_init(&where, OAUTH_PATH_MAX);
	if (strcmp(st->dir, "/") == 0)
		r = buf_printf(&where, "the file /%s", st->base);
	else
		r = buf_printf(&where, "the file %s/%s", st->dir, st->base);
	st->where = r == 0 ? buf_steal(&where) : NULL;
	buf_free(&where);
	return st->where == NULL ? oauth_join_failed("path", e) : 0;
}

/* The keyring keeps the tokens; the lock file sits in the default
 * directory. */
static int oauth_setup_keyring(struct oauth_store *st, const char *safe,
			       struct err *e)
{
#ifndef HAVE_LIBSECRET
	(void)safe;
	return err_set(e, ERR_CONFIG, "account %s: oauth2_token_store keyring "
		       "needs a build with libsecret", st->account);
#else
	st->kind = OAUTH_STORE_KEYRING;
	if (oauth_default_dir(&st->dir, e) < 0)
		return -1;
	st->lock = oauth_join(safe, ".keyring.lock", "");
	st->where = strdup("the keyring");
	if (st->lock == NULL || st->where == NULL)
		return oauth_oom(e);
	return 0;
#endif
}

int oauth_store_open(const struct account *a, struct oauth_store **out,
		     struct err *e)
{
	const char *name = a->name ? a->name : "default";
	const char *chosen = a->oauth2_token_store;
	char safe[OAUTH_STORE_NAME_MAX + 1] = "";
	struct oauth_store *st;
	int r;

	*out = NULL;
	if (chosen != NULL && *chosen == '\0')
		chosen = NULL;
	if ((chosen == NULL || strcmp(chosen, "keyring") == 0)
	    && oauth_store_file_name(name, safe, sizeof safe) < 0)
		return err_set(e, ERR_CONFIG, "account %s: the name is too long "
			       "(or empty) for an OAuth2 token file; set "
			       "oauth2_token_store", name);
	st = calloc(1, sizeof *st);
	if (st == NULL)
		return oauth_oom(e);
	st->lockfd = -1;
	st->kind = OAUTH_STORE_FILE;
	if ((st->account = strdup(name)) == NULL)
		r = oauth_oom(e);
	else if (chosen != NULL && strcmp(chosen, "keyring") == 0)
		r = oauth_setup_keyring(st, safe, e);
	else
		r = oauth_setup_file(st, chosen, safe, e);
	if (r < 0) {
		oauth_store_close(st);
		return -1;
	}
	*out = st;
	return 0;
}

void oauth_store_close(struct oauth_store *st)
{
	if (st == NULL)
		return;
	oauth_store_unlock(st);
	free(st->account);
	free(st->dir);
	free(st->base);
	free(st->lock);
	free(st->where);
	free(st);
}

const char *oauth_store_where(const struct oauth_store *st)
{
	return st->where;
}

void oauth_tokens_clear(struct oauth_tokens *t)
{
	secret_free(t->access);
	secret_free(t->refresh);
	t->access = NULL;
	t->refresh = NULL;
	t->expires_at = 0;
}

/* ---- the directory ------------------------------------------------------ */

/* mkdir that ends with mode 0700 whatever the umask; 1 created, 0 it
 * was there, -1 error (errno). */
static int oauth_mkdir(const char *path)
{
	if (mkdir(path, 0700) == 0)
		return chmod(path, 0700) < 0 ? -1 : 1;
	return errno == EEXIST ? 0 : -1;
}

/* mkdir -p: every missing directory on the way is created 0700. */
static int oauth_make_dirs(const char *dir, struct err *e)
{
	char path[OAUTH_PATH_MAX];
	size_t i, n = strlen(dir);

	if (n >= sizeof path)
		return err_set(e, ERR_CANTCREAT, "directory name too long: %s",
			       dir);
	memcpy(path, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (oauth_mkdir(path) < 0)
			return err_set(e, ERR_CANTCREAT, "cannot create the "
				       "directory %s: %s", path, strerror(errno));
		path[i] = i < n ? '/' : '\0';
	}
	return 0;
}

/* Open the store's directory and check that only its owner (the
 * effective user or root) may change it: whoever can write there can
 * replace the tokens.  `code` is the error code for an unsafe directory
 * (ERR_CONFIG when loading, ERR_CANTCREAT when writing).  Returns the
 * descriptor; -1 with *missing set when it does not exist. */
static int oauth_dir_open(const struct oauth_store *st, int code, int *missing,
			  struct err *e)
{
	int io = code == ERR_CONFIG ? ERR_IOERR : code;
	struct stat sb;
	int fd;

	*missing = 0;
	fd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			*missing = 1;
			return -1;
		}
		return err_set(e, io, "cannot open the directory %s: %s",
			       st->dir, strerror(errno));
	}
	if (fstat(fd, &sb) < 0) {
		err_set(e, io, "cannot examine the directory %s: %s",
			st->dir, strerror(errno));
	} else if (sb.st_uid != geteuid() && sb.st_uid != 0) {
		err_set(e, code, "the directory %s does not belong to you; "
			"refusing to keep OAuth2 tokens there", st->dir);
	} else if (sb.st_mode & 022) {
		err_set(e, code, "the directory %s is writable by group or "
			"others (mode %03o); refusing to keep OAuth2 tokens "
			"there: chmod go-w %s", st->dir,
			(unsigned)(sb.st_mode & 0777), st->dir);
	} else {
		return fd;
	}
	close(fd);
	return -1;
}

/* The directory, created (0700, parents too) when missing. */
static int oauth_dir_make(const struct oauth_store *st, struct err *e)
{
	int missing;
	int fd = oauth_dir_open(st, ERR_CANTCREAT, &missing, e);

	if (fd >= 0 || !missing)
		return fd;
	if (oauth_make_dirs(st->dir, e) < 0)
		return -1;
	fd = oauth_dir_open(st, ERR_CANTCREAT, &missing, e);
	if (fd < 0 && missing)
		return err_set(e, ERR_CANTCREAT, "the directory %s vanished",
			       st->dir);
	return fd;
}

/* ---- token checks and JSON text ----------------------------------------- */

/* Why a token is unfit (NULL when fit): RFC 6749 tokens are printable
 * ASCII; anything else would end up in a SASL line or a log. */
static const char *oauth_token_flaw(const char *p, size_t len)
{
	size_t i;

	if (len == 0)
		return "an empty token";
	if (len > SECRET_MAX)
		return "a token that is too long";
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x20 || c > 0x7e)
			return "a token with a control or non-ASCII byte";
	}
	return NULL;
}

/* Append s[0..n) as a JSON string (quotes included).  Only '"', '\' and
 * control bytes need escaping; other bytes are copied. */
static int oauth_json_str(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char esc[6] = { '\\', 'u', '0', '0', 0, 0 };
	size_t i;
	int r = buf_append_byte(b, '"');

	for (i = 0; i < n && r == 0; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			char two[2] = { '\\', (char)c };

			r = buf_append(b, two, 2);
		} else if (c < 0x20 || c == 0x7f) {
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			r = buf_append(b, esc, 6);
		} else {
			r = buf_append_byte(b, (char)c);
		}
	}
	return r < 0 ? -1 : buf_append_byte(b, '"');
}

/* The store's JSON text for t into b (a buffer the caller wipes). */
static int oauth_json_format(const struct oauth_store *st,
			     const struct oauth_tokens *t, struct buf *b)
{
	int r = buf_append_str(b, "{\"version\":1,\"account\":");

	r |= oauth_json_str(b, st->account, strlen(st->account));
	if (t->access != NULL) {
		r |= buf_append_str(b, ",\"access_token\":");
		r |= oauth_json_str(b, t->access->p, t->access->len);
	}
	if (t->refresh != NULL) {
		r |= buf_append_str(b, ",\"refresh_token\":");
		r |= oauth_json_str(b, t->refresh->p, t->refresh->len);
	}
	r |= buf_printf(b, ",\"expires_at\":%lld}\n", t->expires_at);
	return r ? -1 : 0;
}

/* Refuse to store what loading would call damaged. */
static int oauth_tokens_check(const struct oauth_tokens *t, struct err *e)
{
	const struct secret *s[2] = { t->access, t->refresh };
	const char *flaw;
	int i;

	for (i = 0; i < 2; i++)
		if (s[i] != NULL && (flaw = oauth_token_flaw(s[i]->p, s[i]->len)))
			return err_set(e, ERR_SOFTWARE, "refusing to store %s "
				       "as the %s token", flaw,
				       i == 0 ? "access" : "refresh");
	if (t->expires_at < 0)
		return err_set(e, ERR_SOFTWARE, "refusing to store a negative "
			       "token expiry time");
	return 0;
}

/* ---- parsing ------------------------------------------------------------ */

static int oauth_damaged(const struct oauth_store *st, const char *why,
			 struct err *e)
{
	return err_set(e, ERR_CONFIG, "the OAuth2 tokens in %s are damaged "
		       "(%s); " OAUTH_LOGIN_HINT, st->where, why);
}

/* o[key]: 1 present with type `type`, 0 absent or null, -1 another type. */
static int oauth_json_get(struct json_object *o, const char *key,
			  enum json_type type, struct json_object **out)
{
	*out = NULL;
	if (!json_object_object_get_ex(o, key, out) || *out == NULL)
		return 0;
	return json_object_is_type(*out, type) ? 1 : -1;
}

/* An optional token field into *out (a new secret). */
static int oauth_json_token(const struct oauth_store *st, struct json_object *o,
			    const char *key, struct secret **out, struct err *e)
{
	struct json_object *v;
	const char *p, *flaw;
	size_t len;
	int r = oauth_json_get(o, key, json_type_string, &v);
	char why[128];

	if (r == 0)
		return 0;
	if (r < 0) {
		snprintf(why, sizeof why, "%s is not a string", key);
		return oauth_damaged(st, why, e);
	}
	p = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if ((flaw = oauth_token_flaw(p, len)) != NULL) {
		snprintf(why, sizeof why, "%s is %s", key, flaw);
		return oauth_damaged(st, why, e);
	}
	if ((*out = secret_new(p, len)) == NULL)
		return oauth_oom(e);
	return 0;
}

/* version, account and expires_at of the top-level object. */
static int oauth_json_header(const struct oauth_store *st,
			     struct json_object *o, long long *expires_at,
			     struct err *e)
{
	struct json_object *v;
	const char *acct;
	int r;

	if (oauth_json_get(o, "version", json_type_int, &v) != 1
	    || json_object_get_int64(v) != 1)
		return oauth_damaged(st, "no version 1", e);
	if (oauth_json_get(o, "account", json_type_string, &v) != 1)
		return oauth_damaged(st, "no account name", e);
	acct = json_object_get_string(v);
	if ((size_t)json_object_get_string_len(v) != strlen(st->account)
	    || strcmp(acct, st->account) != 0) {
		char shown[BUF_SHOW_SIZE];

		buf_show(shown, sizeof shown, acct,
			 (size_t)json_object_get_string_len(v));
		return err_set(e, ERR_CONFIG, "%s holds the OAuth2 tokens of "
			       "account %s, not of account %s; give each account "
			       "its own oauth2_token_store", st->where, shown,
			       st->account);
	}
	r = oauth_json_get(o, "expires_at", json_type_int, &v);
	if (r < 0 || (r == 1 && json_object_get_int64(v) < 0))
		return oauth_damaged(st, "expires_at is not a time", e);
	*expires_at = r == 1 ? (long long)json_object_get_int64(v) : 0;
	return 0;
}

/* Where the tokenizer stopped (the accessor is newer than 0.13). */
static size_t oauth_parse_end(struct json_tokener *tok)
{
#if defined(JSON_C_VERSION_NUM) && JSON_C_VERSION_NUM >= ((0 << 16) | (15 << 8))
	return json_tokener_get_parse_end(tok);
#else
	return (size_t)tok->char_offset;
#endif
}

/* JSON's white space (RFC 8259); NUL is not. */
static int oauth_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* text[0..len) as one JSON object, nothing but white space after it. */
static int oauth_json_parse(const struct oauth_store *st, const char *text,
			    size_t len, struct json_object **out, struct err *e)
{
	struct json_tokener *tok;
	enum json_tokener_error je;
	size_t end;

	*out = NULL;
	if (len == 0)
		return oauth_damaged(st, "empty", e);
	if (memchr(text, '\0', len) != NULL)
		return oauth_damaged(st, "a NUL byte", e);
	if ((tok = json_tokener_new()) == NULL)
		return oauth_oom(e);
	*out = json_tokener_parse_ex(tok, text, (int)len);
	je = json_tokener_get_error(tok);
	end = oauth_parse_end(tok);
	json_tokener_free(tok);
	if (*out == NULL)
		return oauth_damaged(st, je == json_tokener_continue
				     ? "cut short" : json_tokener_error_desc(je),
				     e);
	while (end < len && oauth_is_space(text[end]))
		end++;
	if (end < len || !json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		return oauth_damaged(st, end < len ? "text after the JSON object"
				     : "not a JSON object", e);
	}
	return 0;
}

/* The stored text into *t; -1 (ERR_CONFIG) when it is damaged. */
static int oauth_parse(const struct oauth_store *st, const char *text,
		       size_t len, struct oauth_tokens *t, struct err *e)
{
	struct json_object *o;
	int r;

	if (len > OAUTH_STORE_TEXT_MAX)
		return oauth_damaged(st, "too large", e);
	if (oauth_json_parse(st, text, len, &o, e) < 0)
		return -1;
	r = oauth_json_header(st, o, &t->expires_at, e);
	if (r == 0)
		r = oauth_json_token(st, o, "access_token", &t->access, e);
	if (r == 0)
		r = oauth_json_token(st, o, "refresh_token", &t->refresh, e);
	json_object_put(o);
	if (r < 0)
		oauth_tokens_clear(t);
	return r;
}

/* ---- the file ----------------------------------------------------------- */

/* Check the opened store file: a regular file of ours that nobody else
 * may read or write. */
static int oauth_file_check(const struct oauth_store *st, int fd,
			    struct err *e)
{
	struct stat sb;

	if (fstat(fd, &sb) < 0)
		return err_set(e, ERR_IOERR, "cannot examine %s: %s", st->where,
			       strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return err_set(e, ERR_CONFIG, "%s is not a regular file; "
			       "refusing to read OAuth2 tokens from it",
			       st->where);
	if (sb.st_uid != geteuid())
		return err_set(e, ERR_CONFIG, "%s does not belong to you; "
			       "refusing to read OAuth2 tokens from it",
			       st->where);
	if (sb.st_mode & 066)
		return err_set(e, ERR_CONFIG, "%s can be read or written by "
			       "others (mode %03o); refusing to use the OAuth2 "
			       "tokens in it: chmod 600 %s/%s", st->where,
			       (unsigned)(sb.st_mode & 0777), st->dir, st->base);
	return 0;
}

/* Read the whole file into text (at most OAUTH_STORE_TEXT_MAX bytes;
 * more is damage). */
static int oauth_file_read(const struct oauth_store *st, int fd,
			   struct buf *text, struct err *e)
{
	char chunk[4096];
	ssize_t n;

	for (;;) {
		n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;

			buf_wipe(chunk, sizeof chunk);
			return err_set(e, ERR_IOERR, "cannot read %s: %s",
				       st->where, strerror(saved));
		}
		if (n == 0)
			break;
		if (buf_append(text, chunk, (size_t)n) < 0) {
			int saved = errno;

			buf_wipe(chunk, sizeof chunk);
			if (saved == E2BIG)
				return oauth_damaged(st, "too large", e);
			return oauth_oom(e);
		}
	}
	buf_wipe(chunk, sizeof chunk);
	return 0;
}

/* 1 the file's text is in `text`, 0 there is no file, -1 error. */
static int oauth_file_load(const struct oauth_store *st, struct buf *text,
			   struct err *e)
{
	int missing, fd, r;
	int dfd = oauth_dir_open(st, ERR_CONFIG, &missing, e);

	if (dfd < 0)
		return missing ? 0 : -1;
	fd = openat(dfd, st->base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK
		    | O_NOCTTY | O_CLOEXEC);
	close(dfd);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == ELOOP || errno == EMLINK)
			return err_set(e, ERR_CONFIG, "%s is a symbolic link; "
				       "refusing to read OAuth2 tokens through "
				       "it", st->where);
		return err_set(e, ERR_IOERR, "cannot open %s: %s", st->where,
			       strerror(errno));
	}
	r = oauth_file_check(st, fd, e);
	if (r == 0)
		r = oauth_file_read(st, fd, text, e);
	close(fd);
	return r < 0 ? -1 : 1;
}

static int oauth_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A fresh temporary file next to the store: O_EXCL, so nothing planted
 * under the name (a link included) is opened. */
static int oauth_tmp_create(const struct oauth_store *st, int dfd,
			    char *name, size_t namelen, struct err *e)
{
	static unsigned counter;
	struct timespec ts;
	int i, n, fd = -1;

	for (i = 0; i < OAUTH_TMP_TRIES; i++) {
		clock_gettime(CLOCK_REALTIME, &ts);
		n = snprintf(name, namelen, ".%s.%ld.%lx%x.tmp", st->base,
			     (long)getpid(), (unsigned long)ts.tv_nsec,
			     counter++);
		if (n < 0 || (size_t)n >= namelen) {
			errno = ENAMETOOLONG;
			fd = -1;
			break;
		}
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW
			    | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0)
		return err_set(e, ERR_IOERR, "cannot write %s: cannot create a "
			       "temporary file in %s: %s", st->where, st->dir,
			       strerror(errno));
	return fd;
}

/* Write text to a temporary file (0600 whatever the umask), sync it and
 * rename it over the store file; the temporary is removed on failure. */
static int oauth_file_commit(const struct oauth_store *st, int dfd,
			     const struct buf *text, struct err *e)
{
	char tmp[NAME_MAX + 1];
	int fd = oauth_tmp_create(st, dfd, tmp, sizeof tmp, e);
	int bad;

	if (fd < 0)
		return -1;
	bad = fchmod(fd, 0600) < 0
		|| oauth_write_all(fd, text->data, text->len) < 0
		|| fsync(fd) < 0;
	if (bad) {
		int saved = errno;

		close(fd);
		errno = saved;
	} else {
		bad = close(fd) < 0
			|| renameat(dfd, tmp, dfd, st->base) < 0;
	}
	if (bad) {
		int saved = errno;

		unlinkat(dfd, tmp, 0);
		return err_set(e, ERR_IOERR, "cannot write %s: %s", st->where,
			       strerror(saved));
	}
	return 0;
}

static int oauth_file_save(const struct oauth_store *st,
			   const struct buf *text, struct err *e)
{
	int dfd = oauth_dir_make(st, e);
	int r;

	if (dfd < 0)
		return -1;
	r = oauth_file_commit(st, dfd, text, e);
	if (r == 0 && fsync(dfd) < 0 && errno != EINVAL)
		r = err_set(e, ERR_IOERR, "cannot write %s: syncing the "
			    "directory: %s", st->where, strerror(errno));
	close(dfd);
	return r;
}

/* ---- the keyring -------------------------------------------------------- */

#ifdef HAVE_LIBSECRET
/* One item per account; the schema's name is matched so items of other
 * programs with an "account" attribute are never taken.  The struct's
 * reserved fields stay zero. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const SecretSchema oauth_schema = {
	.name = "org.msmtp.OAuth2",
	.flags = SECRET_SCHEMA_NONE,
	.attributes = {
		{ "account", SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ NULL, 0 }
	}
};
#pragma GCC diagnostic pop

static int oauth_keyring_error(const struct oauth_store *st, const char *what,
			       GError *gerr, struct err *e)
{
	err_set(e, ERR_IOERR, "cannot %s the OAuth2 tokens of account %s in "
		"the keyring: %s", what, st->account,
		gerr && gerr->message ? gerr->message : "unknown error");
	if (gerr != NULL)
		g_error_free(gerr);
	return -1;
}

/* 1 the item's text is in `text`, 0 no item, -1 error. */
static int oauth_keyring_load(const struct oauth_store *st, struct buf *text,
			      struct err *e)
{
	GError *gerr = NULL;
	gchar *pw = secret_password_lookup_sync(&oauth_schema, NULL, &gerr,
						"account", st->account, NULL);
	int r;

	if (gerr != NULL) {
		secret_password_free(pw);
		return oauth_keyring_error(st, "read", gerr, e);
	}
	if (pw == NULL)
		return 0;
	r = buf_append_str(text, pw);
	secret_password_free(pw);       /* wipes */
	if (r < 0)
		return errno == E2BIG ? oauth_damaged(st, "too large", e)
			: oauth_oom(e);
	return 1;
}

static int oauth_keyring_save(const struct oauth_store *st,
			      const struct buf *text, struct err *e)
{
	GError *gerr = NULL;
	char *label = oauth_join("msmtp OAuth2 tokens (account ", st->account,
				 ")");
	gboolean ok;

	if (label == NULL)
		return oauth_oom(e);
	ok = secret_password_store_sync(&oauth_schema, SECRET_COLLECTION_DEFAULT,
					label, text->data, NULL, &gerr,
					"account", st->account, NULL);
	free(label);
	if (!ok || gerr != NULL)
		return oauth_keyring_error(st, "store", gerr, e);
	return 0;
}
#else
/* Unreachable: oauth_store_open refuses the keyring in this build. */
static int oauth_keyring_missing(const struct oauth_store *st, struct err *e)
{
	return err_set(e, ERR_CONFIG, "account %s: oauth2_token_store keyring "
		       "needs a build with libsecret", st->account);
}

static int oauth_keyring_load(const struct oauth_store *st, struct buf *text,
			      struct err *e)
{
	(void)text;
	return oauth_keyring_missing(st, e);
}

static int oauth_keyring_save(const struct oauth_store *st,
			      const struct buf *text, struct err *e)
{
	(void)text;
	return oauth_keyring_missing(st, e);
}
#endif

/* ---- load, save --------------------------------------------------------- */

int oauth_store_load(struct oauth_store *st, struct oauth_tokens *t,
		     struct err *e)
{
	struct buf text;
	int r;

	oauth_tokens_clear(t);
	buf_init(&text, OAUTH_STORE_TEXT_MAX);
	if (st->kind == OAUTH_STORE_KEYRING)
		r = oauth_keyring_load(st, &text, e);
	else
		r = oauth_file_load(st, &text, e);
	if (r == 1 && oauth_parse(st, buf_str(&text), text.len, t, e) < 0)
		r = -1;
	buf_free(&text);                /* wipes */
	return r;
}

int oauth_store_save(struct oauth_store *st, const struct oauth_tokens *t,
		     struct err *e)
{
	struct buf text;
	int r;

	if (oauth_tokens_check(t, e) < 0)
		return -1;
	buf_init(&text, OAUTH_STORE_TEXT_MAX);
	if (oauth_json_format(st, t, &text) < 0)
		r = errno == E2BIG ? err_set(e, ERR_SOFTWARE, "OAuth2 tokens "
					     "too large to store") : oauth_oom(e);
	else if (st->kind == OAUTH_STORE_KEYRING)
		r = oauth_keyring_save(st, &text, e);
	else
		r = oauth_file_save(st, &text, e);
	buf_free(&text);                /* wipes */
	return r;
}

/* ---- the lock ----------------------------------------------------------- */

/* Open (creating) the lock file without following a link; it must be a
 * regular file of ours. */
static int oauth_lock_open(const struct oauth_store *st, struct err *e)
{
	struct stat sb;
	int fd, dfd = oauth_dir_make(st, e);

	if (dfd < 0)
		return -1;
	fd = openat(dfd, st->lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK
		    | O_NOCTTY | O_CLOEXEC, 0600);
	close(dfd);
	if (fd < 0)
		return err_set(e, ERR_CANTCREAT, "cannot open the lock file "
			       "%s/%s: %s", st->dir, st->lock,
			       errno == ELOOP || errno == EMLINK
			       ? "it is a symbolic link" : strerror(errno));
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)
	    || sb.st_uid != geteuid()) {
		close(fd);
		return err_set(e, ERR_CANTCREAT, "the lock file %s/%s is not a "
			       "regular file of yours", st->dir, st->lock);
	}
	return fd;
}

static double oauth_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* flock, tried again every OAUTH_LOCK_POLL_MS until the deadline: no
 * signal handling needed, and a process that dies drops its lock. */
static int oauth_lock_wait(const struct oauth_store *st, int fd, int timeout_s,
			   struct err *e)
{
	double deadline = oauth_now() + (timeout_s > 0 ? timeout_s : 0);
	struct timespec pause = { 0, OAUTH_LOCK_POLL_MS * 1000000L };

	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return err_set(e, ERR_IOERR, "cannot lock %s/%s: %s",
				       st->dir, st->lock, strerror(errno));
		if (oauth_now() >= deadline)
			break;
		nanosleep(&pause, NULL);
	}
	return err_set(e, ERR_TEMPFAIL, "another msmtp is refreshing the "
		       "OAuth2 tokens in %s (lock file %s/%s, waited %d s); "
		       "try again later", st->where, st->dir, st->lock,
		       timeout_s > 0 ? timeout_s : 0);
}

int oauth_store_lock(struct oauth_store *st, int timeout_s, struct err *e)
{
	int fd;

	if (st->lockfd >= 0)
		return 0;
	if ((fd = oauth_lock_open(st, e)) < 0)
		return -1;
	if (oauth_lock_wait(st, fd, timeout_s, e) < 0) {
		close(fd);
		return -1;
	}
	st->lockfd = fd;
	return 0;
}

void oauth_store_unlock(struct oauth_store *st)
{
	if (st == NULL || st->lockfd < 0)
		return;
	flock(st->lockfd, LOCK_UN);
	close(st->lockfd);
	st->lockfd = -1;
}
