/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "conf.h"
#include "buf.h"
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <netdb.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* Largest configuration file we read: far beyond any real msmtprc, small
 * enough that a wrong path (a disk image, /dev/zero) cannot eat memory. */
#define CONF_FILE_MAX (16 * 1024 * 1024)
/* How deep `eval` output may itself be an `eval` line. */
#define CONF_EVAL_DEPTH_MAX 4
/* Longest text produced by %-expansion of `from` or `domain`. */
#define CONF_EXPAND_MAX 4096
/* Room for "FILE:LINE" prefixes. */
#define CONF_WHERE_MAX (PATH_MAX + 32)

/*
 * Setting keys: the index of each setting in account->isset.  Legacy
 * commands mark the key of the modern setting they map to.
 */
enum conf_key {
	K_HOST, K_PORT, K_SOURCE_IP, K_PROXY_HOST, K_PROXY_PORT, K_SOCKET,
	K_TIMEOUT, K_PROTOCOL, K_DOMAIN, K_AUTH, K_USER, K_PASSWORD,
	K_PASSWORDEVAL, K_NTLMDOMAIN, K_TLS, K_TLS_STARTTLS, K_TLS_TRUST_FILE,
	K_TLS_CRL_FILE, K_TLS_FINGERPRINT, K_TLS_KEY_FILE, K_TLS_CERT_FILE,
	K_TLS_CERTCHECK, K_TLS_PRIORITIES, K_TLS_HOST_OVERRIDE,
	K_TLS_MIN_DH_PRIME_BITS, K_FROM, K_FROM_FULL_NAME,
	K_ALLOW_FROM_OVERRIDE, K_DSN_NOTIFY, K_DSN_RETURN, K_SET_FROM_HEADER,
	K_SET_DATE_HEADER, K_SET_MSGID_HEADER, K_SET_TO_HEADER,
	K_REMOVE_BCC_HEADERS, K_PARTIAL_DELIVERY, K_CHUNKING, K_LOGFILE,
	K_LOGFILE_TIME_FORMAT, K_LOGFILE_FORMAT, K_SYSLOG, K_ALIASES,
	K_QUEUE, K_QUEUE_DIR, K_QUEUE_LIFETIME, K_QUEUE_BACKOFF, K_QUEUE_NOTIFY,
	K_QUEUE_OPPORTUNISTIC, K_FAILOVER,
	K_OAUTH2_PROVIDER, K_OAUTH2_CLIENT_ID, K_OAUTH2_CLIENT_SECRET,
	K_OAUTH2_TENANT, K_OAUTH2_SCOPE, K_OAUTH2_FLOW, K_OAUTH2_AUTH_ENDPOINT,
	K_OAUTH2_TOKEN_ENDPOINT, K_OAUTH2_DEVICE_ENDPOINT,
	K_OAUTH2_REFRESH_MARGIN, K_OAUTH2_TOKEN_STORE, K_OAUTH2_TRUST_FILE,
	K_IP_FAMILY,
	K_TLS_SESSION_CACHE,    /* issue 13: TLS session resumption */
	K_AUTO_FROM,            /* legacy flag: `from` is made by auto_from */
	K_COUNT,
	K_NONE = -1             /* command manages isset itself (or not at all) */
};

/* An isset slot that is no setting: 1 if the account came from a user
 * file.  Never inherited (inheritance walks keys below K_COUNT only). */
#define ISSET_USER_FILE 95

_Static_assert(K_COUNT < ISSET_USER_FILE, "isset too small for keys");
_Static_assert(ISSET_USER_FILE < sizeof(((struct account *)0)->isset),
	       "isset too small for flags");

enum field_kind { FIELD_STR, FIELD_INT, FIELD_FLAG };

struct field {
	enum field_kind kind;
	size_t off;
};

#define STR_FIELD(f) { FIELD_STR, offsetof(struct account, f) }
#define INT_FIELD(f) { FIELD_INT, offsetof(struct account, f) }

/* Where each key lives in struct account (for inheritance and setters). */
static const struct field fields[K_COUNT] = {
	[K_HOST] = STR_FIELD(host),
	[K_PORT] = INT_FIELD(port),
	[K_SOURCE_IP] = STR_FIELD(source_ip),
	[K_PROXY_HOST] = STR_FIELD(proxy_host),
	[K_PROXY_PORT] = INT_FIELD(proxy_port),
	[K_SOCKET] = STR_FIELD(socket),
	[K_TIMEOUT] = INT_FIELD(timeout),
	[K_PROTOCOL] = INT_FIELD(protocol),
	[K_DOMAIN] = STR_FIELD(domain),
	[K_AUTH] = STR_FIELD(auth),
	[K_USER] = STR_FIELD(user),
	[K_PASSWORD] = STR_FIELD(password),
	[K_PASSWORDEVAL] = STR_FIELD(passwordeval),
	[K_NTLMDOMAIN] = STR_FIELD(ntlmdomain),
	[K_TLS] = INT_FIELD(tls),
	[K_TLS_STARTTLS] = INT_FIELD(tls_starttls),
	[K_TLS_TRUST_FILE] = STR_FIELD(tls_trust_file),
	[K_TLS_CRL_FILE] = STR_FIELD(tls_crl_file),
	[K_TLS_FINGERPRINT] = STR_FIELD(tls_fingerprint),
	[K_TLS_KEY_FILE] = STR_FIELD(tls_key_file),
	[K_TLS_CERT_FILE] = STR_FIELD(tls_cert_file),
	[K_TLS_CERTCHECK] = INT_FIELD(tls_certcheck),
	[K_TLS_PRIORITIES] = STR_FIELD(tls_priorities),
	[K_TLS_HOST_OVERRIDE] = STR_FIELD(tls_host_override),
	[K_TLS_MIN_DH_PRIME_BITS] = INT_FIELD(tls_min_dh_prime_bits),
	[K_FROM] = STR_FIELD(from),
	[K_FROM_FULL_NAME] = STR_FIELD(from_full_name),
	[K_ALLOW_FROM_OVERRIDE] = INT_FIELD(allow_from_override),
	[K_DSN_NOTIFY] = STR_FIELD(dsn_notify),
	[K_DSN_RETURN] = STR_FIELD(dsn_return),
	[K_SET_FROM_HEADER] = INT_FIELD(set_from_header),
	[K_SET_DATE_HEADER] = INT_FIELD(set_date_header),
	[K_SET_MSGID_HEADER] = INT_FIELD(set_msgid_header),
	[K_SET_TO_HEADER] = INT_FIELD(set_to_header),
	[K_REMOVE_BCC_HEADERS] = INT_FIELD(remove_bcc_headers),
	[K_PARTIAL_DELIVERY] = INT_FIELD(partial_delivery),
	[K_CHUNKING] = INT_FIELD(chunking),
	[K_LOGFILE] = STR_FIELD(logfile),
	[K_LOGFILE_TIME_FORMAT] = STR_FIELD(logfile_time_format),
	[K_LOGFILE_FORMAT] = INT_FIELD(logfile_format),
	[K_SYSLOG] = STR_FIELD(syslog),
	[K_ALIASES] = STR_FIELD(aliases),
	[K_QUEUE] = INT_FIELD(queue),
	[K_QUEUE_DIR] = STR_FIELD(queue_dir),
	[K_QUEUE_LIFETIME] = INT_FIELD(queue_lifetime),
	[K_QUEUE_BACKOFF] = INT_FIELD(queue_backoff),
	[K_QUEUE_NOTIFY] = INT_FIELD(queue_notify),
	[K_QUEUE_OPPORTUNISTIC] = INT_FIELD(queue_opportunistic),
	[K_FAILOVER] = STR_FIELD(failover),
	[K_OAUTH2_PROVIDER] = INT_FIELD(oauth2_provider),
	[K_OAUTH2_CLIENT_ID] = STR_FIELD(oauth2_client_id),
	[K_OAUTH2_CLIENT_SECRET] = STR_FIELD(oauth2_client_secret),
	[K_OAUTH2_TENANT] = STR_FIELD(oauth2_tenant),
	[K_OAUTH2_SCOPE] = STR_FIELD(oauth2_scope),
	[K_OAUTH2_FLOW] = INT_FIELD(oauth2_flow),
	[K_OAUTH2_AUTH_ENDPOINT] = STR_FIELD(oauth2_auth_endpoint),
	[K_OAUTH2_TOKEN_ENDPOINT] = STR_FIELD(oauth2_token_endpoint),
	[K_OAUTH2_DEVICE_ENDPOINT] = STR_FIELD(oauth2_device_endpoint),
	[K_OAUTH2_REFRESH_MARGIN] = INT_FIELD(oauth2_refresh_margin),
	[K_OAUTH2_TOKEN_STORE] = STR_FIELD(oauth2_token_store),
	[K_OAUTH2_TRUST_FILE] = STR_FIELD(oauth2_trust_file),
	[K_IP_FAMILY] = INT_FIELD(ip_family),
	[K_TLS_SESSION_CACHE] = INT_FIELD(tls_session_cache),
	[K_AUTO_FROM] = { FIELD_FLAG, 0 },
};

/* Every char * member of struct account, for free and dup. */
static const size_t string_members[] = {
	offsetof(struct account, name),
	offsetof(struct account, file),
	offsetof(struct account, host),
	offsetof(struct account, source_ip),
	offsetof(struct account, proxy_host),
	offsetof(struct account, socket),
	offsetof(struct account, domain),
	offsetof(struct account, auth),
	offsetof(struct account, user),
	offsetof(struct account, password),
	offsetof(struct account, passwordeval),
	offsetof(struct account, ntlmdomain),
	offsetof(struct account, tls_trust_file),
	offsetof(struct account, tls_crl_file),
	offsetof(struct account, tls_fingerprint),
	offsetof(struct account, tls_key_file),
	offsetof(struct account, tls_cert_file),
	offsetof(struct account, tls_priorities),
	offsetof(struct account, tls_host_override),
	offsetof(struct account, from),
	offsetof(struct account, from_full_name),
	offsetof(struct account, dsn_notify),
	offsetof(struct account, dsn_return),
	offsetof(struct account, logfile),
	offsetof(struct account, logfile_time_format),
	offsetof(struct account, syslog),
	offsetof(struct account, aliases),
	offsetof(struct account, queue_dir),
	offsetof(struct account, failover),
	offsetof(struct account, oauth2_client_id),
	offsetof(struct account, oauth2_client_secret),
	offsetof(struct account, oauth2_tenant),
	offsetof(struct account, oauth2_scope),
	offsetof(struct account, oauth2_auth_endpoint),
	offsetof(struct account, oauth2_token_endpoint),
	offsetof(struct account, oauth2_device_endpoint),
	offsetof(struct account, oauth2_token_store),
	offsetof(struct account, oauth2_trust_file),
};

#define NELEM(x) (sizeof(x) / sizeof((x)[0]))

static char **str_at(struct account *a, size_t off)
{
	return (char **)(void *)((char *)a + off);
}

static int *int_at(struct account *a, size_t off)
{
	return (int *)(void *)((char *)a + off);
}

/* Free a string that may have held something private (all account
 * strings are wiped: cheap, and no need to know which ones matter). */
static void str_wipe_free(char **s)
{
	if (*s != NULL) {
		buf_wipe(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

/* Replace *slot with a copy of val (NULL allowed).  -1 on ENOMEM. */
static int str_replace(char **slot, const char *val)
{
	char *copy = NULL;

	if (val != NULL) {
		copy = strdup(val);
		if (copy == NULL)
			return -1;
	}
	str_wipe_free(slot);
	*slot = copy;
	return 0;
}

/* malloc'd a followed by b; NULL on ENOMEM. */
static char *str_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s;

	if (la > SIZE_MAX - lb - 1)
		return NULL;
	s = malloc(la + lb + 1);
	if (s == NULL)
		return NULL;
	memcpy(s, a, la);
	memcpy(s + la, b, lb + 1);
	return s;
}

static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' ||
	    ch == '\v';
}

static int oom(struct err *e)
{
	return err_set(e, ERR_OSERR, "out of memory");
}

/* ------------------------------------------------------------------ */
/* accounts */

struct account *conf_account_new(const char *name)
{
	struct account *a = calloc(1, sizeof *a);

	if (a == NULL)
		return NULL;
	if (name != NULL && (a->name = strdup(name)) == NULL)
		goto fail;
	if ((a->domain = strdup("localhost")) == NULL)
		goto fail;
	a->port = 0;
	a->proxy_port = 0;
	a->timeout = CONF_DEFAULT_TIMEOUT;
	a->protocol = CONF_PROTO_SMTP;
	a->tls = CONF_TLS_UNSET;
	a->tls_starttls = CONF_ON;
	a->tls_certcheck = CONF_ON;
	a->tls_session_cache = CONF_ON;
	a->allow_from_override = CONF_ON;
	a->set_from_header = CONF_AUTO;
	a->set_date_header = CONF_AUTO;
	a->set_msgid_header = CONF_AUTO;
	a->set_to_header = CONF_TO_OFF;
	a->remove_bcc_headers = CONF_ON;
	a->partial_delivery = CONF_OFF;
	a->chunking = CONF_ON;
	a->queue = CONF_QUEUE_OFF;
	a->queue_lifetime = CONF_DEFAULT_QUEUE_LIFETIME;
	a->queue_backoff = CONF_DEFAULT_QUEUE_BACKOFF;
	a->queue_notify = CONF_OFF;
	a->queue_opportunistic = CONF_ON;
	a->oauth2_refresh_margin = CONF_DEFAULT_OAUTH2_REFRESH_MARGIN;
	return a;
fail:
	conf_account_free(a);
	return NULL;
}

void conf_account_free(struct account *a)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < NELEM(string_members); i++)
		str_wipe_free(str_at(a, string_members[i]));
	buf_wipe(a, sizeof *a);
	free(a);
}

struct account *conf_account_dup(const struct account *a)
{
	struct account *d;
	size_t i;

	d = malloc(sizeof *d);
	if (d == NULL)
		return NULL;
	*d = *a;
	for (i = 0; i < NELEM(string_members); i++)
		*str_at(d, string_members[i]) = NULL;
	for (i = 0; i < NELEM(string_members); i++) {
		const char *src = *str_at((struct account *)a,
		    string_members[i]);

		if (src != NULL &&
		    (*str_at(d, string_members[i]) = strdup(src)) == NULL) {
			conf_account_free(d);
			return NULL;
		}
	}
	return d;
}

/* Copy one setting from src to dst.  -1 on ENOMEM. */
static int copy_key(struct account *dst, const struct account *src, int k)
{
	struct account *s = (struct account *)src;

	switch (fields[k].kind) {
	case FIELD_STR:
		return str_replace(str_at(dst, fields[k].off),
		    *str_at(s, fields[k].off));
	case FIELD_INT:
		*int_at(dst, fields[k].off) = *int_at(s, fields[k].off);
		return 0;
	case FIELD_FLAG:
		return 0;
	}
	return 0;
}

/* Account inheritance: copy every setting the parent set explicitly
 * (including what it took from its defaults), later parents winning. */
static int inherit(struct account *dst, const struct account *parent)
{
	int k;

	for (k = 0; k < K_COUNT; k++) {
		if (!parent->isset[k])
			continue;
		if (copy_key(dst, parent, k) < 0)
			return -1;
		dst->isset[k] = parent->isset[k];
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* value parsers */

static int bad_arg(const char *where, const char *cmd, const char *arg,
		   struct err *e)
{
	char shown[BUF_SHOW_SIZE];

	/* quoted: a CR or an escape sequence in it must not reach the
	 * terminal as they are (found by fuzzing) */
	buf_show(shown, sizeof shown, arg, strlen(arg));
	return err_set(e, ERR_CONFIG, "%s: invalid argument %s for command %s",
	    where, shown, cmd);
}

static int needs_arg(const char *where, const char *cmd, struct err *e)
{
	return err_set(e, ERR_CONFIG, "%s: command %s needs an argument",
	    where, cmd);
}

/* "" and "on" -> 1, "off" -> 0, anything else -1 (msmtp: exact words). */
static int parse_onoff(const char *arg)
{
	if (arg[0] == '\0' || strcmp(arg, "on") == 0)
		return 1;
	if (strcmp(arg, "off") == 0)
		return 0;
	return -1;
}

/* A decimal number of digits only, within [min, max]. */
static int parse_number(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

const char *conf_home_dir(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	if (h != NULL && h[0] != '\0')
		return h;
	pw = getpwuid(getuid());
	if (pw != NULL && pw->pw_dir != NULL && pw->pw_dir[0] != '\0')
		return pw->pw_dir;
	return NULL;
}

/* `~` or `~/...` at the start of a path means the home directory. */
static int expand_tilde(const char *path, char **out, const char *where,
			const char *cmd, struct err *e)
{
	const char *home;

	if (path[0] != '~' || (path[1] != '\0' && path[1] != '/')) {
		*out = strdup(path);
		return *out == NULL ? oom(e) : 0;
	}
	home = conf_home_dir();
	if (home == NULL)
		return err_set(e, ERR_CONFIG, "%s: cannot expand %s for "
		    "command %s: home directory unknown", where, path, cmd);
	*out = str_join(home, path + 1);
	return *out == NULL ? oom(e) : 0;
}

/* Line breaks in a value would end up in headers or commands. */
static int has_line_break(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

/* Upper-case colon-separated form of a fingerprint, or -1 if the text is
 * not hex pairs separated by ':' or ' ' of MD5/SHA-1/SHA-256 length. */
static int normalize_fingerprint(const char *in, char **out)
{
	static const char hex[] = "0123456789ABCDEF";
	char norm[32 * 3];
	size_t n = 0, i = 0;

	for (;;) {
		const char *h1, *h2;

		if (n == 32 || in[i] == '\0' || in[i + 1] == '\0')
			return -1;
		h1 = strchr(hex, in[i] >= 'a' && in[i] <= 'f' ?
		    in[i] - 'a' + 'A' : in[i]);
		h2 = strchr(hex, in[i + 1] >= 'a' && in[i + 1] <= 'f' ?
		    in[i + 1] - 'a' + 'A' : in[i + 1]);
		if (h1 == NULL || h2 == NULL || *h1 == '\0' || *h2 == '\0')
			return -1;
		norm[n * 3] = *h1;
		norm[n * 3 + 1] = *h2;
		norm[n * 3 + 2] = ':';
		n++;
		i += 2;
		if (in[i] == '\0')
			break;
		if (in[i] != ':' && in[i] != ' ')
			return -1;
		i++;
	}
	if (n != 16 && n != 20 && n != 32)
		return -1;
	norm[n * 3 - 1] = '\0';
	*out = strdup(norm);
	return *out == NULL ? -2 : 0;
}

static const char *const auth_methods[] = {
	"on", "off", "scram-sha-256-plus", "scram-sha-1-plus",
	"scram-sha-256", "scram-sha-1", "plain", "gssapi", "external",
	"oauthbearer", "cram-md5", "digest-md5", "login", "ntlm", "xoauth2",
};

static const char *find_auth_method(const char *arg)
{
	size_t i;

	for (i = 0; i < NELEM(auth_methods); i++)
		if (strcasecmp(arg, auth_methods[i]) == 0)
			return auth_methods[i];
	return NULL;
}

/* dsn_notify: "never" alone, or a comma list of failure, delay, success
 * (RFC 3461 section 4.1), case-insensitive, stored lower-case. */
static int normalize_dsn_notify(const char *arg, char **out)
{
	static const char *const words[] = { "failure", "delay", "success" };
	struct buf b;
	const char *p = arg;

	if (strcasecmp(arg, "never") == 0) {
		*out = strdup("never");
		return *out == NULL ? -2 : 0;
	}
	buf_init(&b, 64);
	for (;;) {
		size_t len = strcspn(p, ",");
		size_t i;

		for (i = 0; i < NELEM(words); i++)
			if (len == strlen(words[i]) &&
			    strncasecmp(p, words[i], len) == 0)
				break;
		if (i == NELEM(words)) {
			buf_free(&b);
			return -1;
		}
		if ((b.len > 0 && buf_append_byte(&b, ',') < 0) ||
		    buf_append_str(&b, words[i]) < 0) {
			buf_free(&b);
			return -1;
		}
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	*out = buf_steal(&b);
	return *out == NULL ? -2 : 0;
}

static int is_syslog_facility(const char *arg)
{
	static const char *const names[] = {
		"LOG_USER", "LOG_MAIL", "LOG_LOCAL0", "LOG_LOCAL1",
		"LOG_LOCAL2", "LOG_LOCAL3", "LOG_LOCAL4", "LOG_LOCAL5",
		"LOG_LOCAL6", "LOG_LOCAL7",
	};
	size_t i;

	for (i = 0; i < NELEM(names); i++)
		if (strcmp(arg, names[i]) == 0)
			return 1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* command setters */

struct command;
typedef int setter_fn(struct account *a, const struct command *cmd,
		      const char *arg, const char *where, struct err *e);

struct command {
	const char *name;
	int key;                /* isset slot marked on success, or K_NONE */
	setter_fn *set;
};

static char **cmd_str(struct account *a, const struct command *cmd)
{
	return str_at(a, fields[cmd->key].off);
}

static int *cmd_int(struct account *a, const struct command *cmd)
{
	return int_at(a, fields[cmd->key].off);
}

/* Store a value the caller already owns (NULL = unset). */
static void cmd_store_owned(struct account *a, const struct command *cmd,
			    char *val)
{
	char **slot = cmd_str(a, cmd);

	str_wipe_free(slot);
	*slot = val;
}

/* Plain text; empty unsets. */
static int set_string(struct account *a, const struct command *cmd,
		      const char *arg, const char *where, struct err *e)
{
	if (has_line_break(arg))
		return err_set(e, ERR_CONFIG, "%s: invalid argument for "
		    "command %s: contains a line break", where, cmd->name);
	if (str_replace(cmd_str(a, cmd), arg[0] ? arg : NULL) < 0)
		return oom(e);
	return 0;
}

/* The password is taken as it is and never shown in a message. */
static int set_secret(struct account *a, const struct command *cmd,
		      const char *arg, const char *where, struct err *e)
{
	if (str_replace(cmd_str(a, cmd), arg[0] ? arg : NULL) < 0)
		return oom(e);
	return 0;
}

/* A file name: `~` expanded, empty unsets. */
static int set_path(struct account *a, const struct command *cmd,
		    const char *arg, const char *where, struct err *e)
{
	char *path;

	if (arg[0] == '\0') {
		cmd_store_owned(a, cmd, NULL);
		return 0;
	}
	if (has_line_break(arg))
		return set_string(a, cmd, arg, where, e);
	if (expand_tilde(arg, &path, where, cmd->name, e) < 0)
		return -1;
	cmd_store_owned(a, cmd, path);
	return 0;
}

/* tls_trust_file: "system" = the default store (NULL), "" = none. */
static int set_trust_file(struct account *a, const struct command *cmd,
			  const char *arg, const char *where, struct err *e)
{
	if (strcmp(arg, "system") == 0) {
		cmd_store_owned(a, cmd, NULL);
		return 0;
	}
	if (arg[0] == '\0') {
		if (str_replace(cmd_str(a, cmd), "") < 0)
			return oom(e);
		return 0;
	}
	return set_path(a, cmd, arg, where, e);
}

static int set_onoff(struct account *a, const struct command *cmd,
		     const char *arg, const char *where, struct err *e)
{
	int v = parse_onoff(arg);

	if (v < 0)
		return bad_arg(where, cmd->name, arg, e);
	*cmd_int(a, cmd) = v ? CONF_ON : CONF_OFF;
	return 0;
}

/* port, proxy_port: 1-65535; empty unsets (derived later). */
static int set_port(struct account *a, const struct command *cmd,
		    const char *arg, const char *where, struct err *e)
{
	long v = 0;

	if (arg[0] != '\0' && parse_number(arg, 1, 65535, &v) < 0)
		return bad_arg(where, cmd->name, arg, e);
	*cmd_int(a, cmd) = (int)v;
	return 0;
}

/* timeout: "off" (0) or positive seconds; empty restores the default. */
static int set_timeout(struct account *a, const struct command *cmd,
		       const char *arg, const char *where, struct err *e)
{
	long v = CONF_DEFAULT_TIMEOUT;

	if (strcmp(arg, "off") == 0)
		v = 0;
	else if (arg[0] != '\0' && parse_number(arg, 1, INT_MAX, &v) < 0)
		return bad_arg(where, cmd->name, arg, e);
	*cmd_int(a, cmd) = (int)v;
	return 0;
}

/* A positive integer; empty unsets (0). */
static int set_posint(struct account *a, const struct command *cmd,
		      const char *arg, const char *where, struct err *e)
{
	long v = 0;

	if (arg[0] != '\0' && parse_number(arg, 1, INT_MAX, &v) < 0)
		return bad_arg(where, cmd->name, arg, e);
	*cmd_int(a, cmd) = (int)v;
	return 0;
}

/* queue: off, tempfail or always. */
static int set_queue(struct account *a, const struct command *cmd,
		     const char *arg, const char *where, struct err *e)
{
	static const char *const words[] = { "off", "tempfail", "always" };
	int i;

	for (i = 0; i < 3; i++)
		if (strcmp(arg, words[i]) == 0) {
			*cmd_int(a, cmd) = i;
			return 0;
		}
	return bad_arg(where, cmd->name, arg, e);
}

/* logfile_format: text (msmtp's line) or json (one object per line). */
static int set_logfile_format(struct account *a, const struct command *cmd,
			      const char *arg, const char *where,
			      struct err *e)
{
	if (arg[0] == '\0')
		return needs_arg(where, cmd->name, e);
	if (strcmp(arg, "text") == 0)
		*cmd_int(a, cmd) = CONF_LOGFILE_TEXT;
	else if (strcmp(arg, "json") == 0)
		*cmd_int(a, cmd) = CONF_LOGFILE_JSON;
	else
		return bad_arg(where, cmd->name, arg, e);
	return 0;
}

/* A duration: a positive number with an optional unit s, m, h or d. */
static int set_duration(struct account *a, const struct command *cmd,
			const char *arg, const char *where, struct err *e)
{
	char num[32];
	size_t n = strlen(arg);
	long v, mult = 1;

	if (n == 0 || n >= sizeof num)
		return bad_arg(where, cmd->name, arg, e);
	memcpy(num, arg, n + 1);
	switch (num[n - 1]) {
	case 's': mult = 1; num[--n] = '\0'; break;
	case 'm': mult = 60; num[--n] = '\0'; break;
	case 'h': mult = 3600; num[--n] = '\0'; break;
	case 'd': mult = 86400; num[--n] = '\0'; break;
	default: break;
	}
	if (parse_number(num, 1, INT_MAX / mult, &v) < 0)
		return bad_arg(where, cmd->name, arg, e);
	*cmd_int(a, cmd) = (int)(v * mult);
	return 0;
}

/* failover: a comma list of account names (no spaces inside names). */
static int set_failover(struct account *a, const struct command *cmd,
			const char *arg, const char *where, struct err *e)
{
	size_t i;

	for (i = 0; arg[i]; i++)
		if (arg[i] == ':' || (unsigned char)arg[i] < 0x20)
			return bad_arg(where, cmd->name, arg, e);
	return set_string(a, cmd, arg, where, e);
}

static int set_protocol(struct account *a, const struct command *cmd,
			const char *arg, const char *where, struct err *e)
{
	if (arg[0] == '\0')
		return needs_arg(where, cmd->name, e);
	if (strcmp(arg, "smtp") == 0)
		*cmd_int(a, cmd) = CONF_PROTO_SMTP;
	else if (strcmp(arg, "lmtp") == 0)
		*cmd_int(a, cmd) = CONF_PROTO_LMTP;
	else
		return bad_arg(where, cmd->name, arg, e);
	return 0;
}

/* ip_family: any, ipv4 or ipv6; empty restores any. */
static int set_ip_family(struct account *a, const struct command *cmd,
			 const char *arg, const char *where, struct err *e)
{
	if (arg[0] == '\0' || strcmp(arg, "any") == 0)
		*cmd_int(a, cmd) = CONF_IP_ANY;
	else if (strcmp(arg, "ipv4") == 0)
		*cmd_int(a, cmd) = CONF_IP_V4;
	else if (strcmp(arg, "ipv6") == 0)
		*cmd_int(a, cmd) = CONF_IP_V6;
	else
		return bad_arg(where, cmd->name, arg, e);
	return 0;
}

/* auth: on, off, or a method name; empty means on. */
static int set_auth(struct account *a, const struct command *cmd,
		    const char *arg, const char *where, struct err *e)
{
	const char *method = arg[0] ? find_auth_method(arg) : "on";

	if (method == NULL)
		return bad_arg(where, cmd->name, arg, e);
	if (str_replace(cmd_str(a, cmd), method) < 0)
		return oom(e);
	return 0;
}

static int set_dsn_notify(struct account *a, const struct command *cmd,
			  const char *arg, const char *where, struct err *e)
{
	char *norm;
	int r;

	if (arg[0] == '\0' || strcasecmp(arg, "off") == 0) {
		cmd_store_owned(a, cmd, NULL);
		return 0;
	}
	r = normalize_dsn_notify(arg, &norm);
	if (r == -2)
		return oom(e);
	if (r < 0)
		return bad_arg(where, cmd->name, arg, e);
	cmd_store_owned(a, cmd, norm);
	return 0;
}

/* dsn_return: off, headers (sendmail spells it hdrs), full. */
static int set_dsn_return(struct account *a, const struct command *cmd,
			  const char *arg, const char *where, struct err *e)
{
	const char *val;

	if (arg[0] == '\0' || strcasecmp(arg, "off") == 0)
		val = NULL;
	else if (strcasecmp(arg, "headers") == 0 ||
	    strcasecmp(arg, "hdrs") == 0)
		val = "headers";
	else if (strcasecmp(arg, "full") == 0)
		val = "full";
	else
		return bad_arg(where, cmd->name, arg, e);
	if (str_replace(cmd_str(a, cmd), val) < 0)
		return oom(e);
	return 0;
}

/* set_from_header: auto, on, off; empty means on. */
static int set_from_hdr(struct account *a, const struct command *cmd,
			const char *arg, const char *where, struct err *e)
{
	if (strcmp(arg, "auto") == 0)
		*cmd_int(a, cmd) = CONF_AUTO;
	else if (arg[0] == '\0' || strcmp(arg, "on") == 0)
		*cmd_int(a, cmd) = CONF_ON;
	else if (strcmp(arg, "off") == 0)
		*cmd_int(a, cmd) = CONF_OFF;
	else
		return bad_arg(where, cmd->name, arg, e);
	return 0;
}

/* set_date_header, set_msgid_header: auto or off; empty means auto. */
static int set_auto_off(struct account *a, const struct command *cmd,
			const char *arg, const char *where, struct err *e)
{
	if (arg[0] == '\0' || strcmp(arg, "auto") == 0)
		*cmd_int(a, cmd) = CONF_AUTO;
	else if (strcmp(arg, "off") == 0)
		*cmd_int(a, cmd) = CONF_OFF;
	else
		return bad_arg(where, cmd->name, arg, e);
	return 0;
}

/* set_to_header: on, off, undisclosed_recipients; empty means on. */
static int set_to_hdr(struct account *a, const struct command *cmd,
		      const char *arg, const char *where, struct err *e)
{
	if (arg[0] == '\0' || strcmp(arg, "on") == 0)
		*cmd_int(a, cmd) = CONF_TO_ON;
	else if (strcmp(arg, "off") == 0)
		*cmd_int(a, cmd) = CONF_TO_OFF;
	else if (strcmp(arg, "undisclosed_recipients") == 0)
		*cmd_int(a, cmd) = CONF_TO_UNDISCLOSED;
	else
		return bad_arg(where, cmd->name, arg, e);
	return 0;
}

/* syslog: on (LOG_USER), off (unset), or a facility name. */
static int set_syslog(struct account *a, const struct command *cmd,
		      const char *arg, const char *where, struct err *e)
{
	const char *val;

	if (arg[0] == '\0' || strcmp(arg, "on") == 0)
		val = "LOG_USER";
	else if (strcmp(arg, "off") == 0)
		val = NULL;
	else if (is_syslog_facility(arg))
		val = arg;
	else
		return bad_arg(where, cmd->name, arg, e);
	if (str_replace(cmd_str(a, cmd), val) < 0)
		return oom(e);
	return 0;
}

/* Stored normalized as "AB:CD:..." so the TLS code has one format. */
static int set_fingerprint(struct account *a, const struct command *cmd,
			   const char *arg, const char *where, struct err *e)
{
	char *norm;
	int r;

	if (arg[0] == '\0') {
		cmd_store_owned(a, cmd, NULL);
		return 0;
	}
	r = normalize_fingerprint(arg, &norm);
	if (r == -2)
		return oom(e);
	if (r < 0)
		return bad_arg(where, cmd->name, arg, e);
	cmd_store_owned(a, cmd, norm);
	return 0;
}

/* Legacy undisclosed_recipients: on = set_to_header undisclosed. */
static int set_undisclosed(struct account *a, const struct command *cmd,
			   const char *arg, const char *where, struct err *e)
{
	int v = parse_onoff(arg);

	if (v < 0)
		return bad_arg(where, cmd->name, arg, e);
	a->set_to_header = v ? CONF_TO_UNDISCLOSED : CONF_TO_OFF;
	return 0;
}

/* Legacy keepbcc: the inverse of remove_bcc_headers. */
static int set_keepbcc(struct account *a, const struct command *cmd,
		       const char *arg, const char *where, struct err *e)
{
	int v = parse_onoff(arg);

	if (v < 0)
		return bad_arg(where, cmd->name, arg, e);
	a->remove_bcc_headers = v ? CONF_OFF : CONF_ON;
	return 0;
}

/* Legacy add_missing_from_header / add_missing_date_header: on = auto. */
static int set_add_missing(struct account *a, const struct command *cmd,
			   const char *arg, const char *where, struct err *e)
{
	int v = parse_onoff(arg);

	if (v < 0)
		return bad_arg(where, cmd->name, arg, e);
	*cmd_int(a, cmd) = v ? CONF_AUTO : CONF_OFF;
	return 0;
}

/* Legacy tls_nocertcheck / tls_nostarttls: negations of the modern
 * on/off command (given without argument they turn it off). */
static int set_negated(struct account *a, const struct command *cmd,
		       const char *arg, const char *where, struct err *e)
{
	int v = parse_onoff(arg);

	if (v < 0)
		return bad_arg(where, cmd->name, arg, e);
	*cmd_int(a, cmd) = v ? CONF_OFF : CONF_ON;
	return 0;
}

/* Legacy tls_force_sslv3: accepted and ignored (SSLv3 is long dead). */
static int set_ignored_onoff(struct account *a, const struct command *cmd,
			     const char *arg, const char *where, struct err *e)
{
	if (parse_onoff(arg) < 0)
		return bad_arg(where, cmd->name, arg, e);
	return 0;
}

/* The from address legacy auto_from makes: "%U@DOMAIN", or "%U". */
static int set_auto_from_address(struct account *a, const char *maildomain,
				 struct err *e)
{
	char *from;

	if (maildomain == NULL || maildomain[0] == '\0')
		from = strdup("%U");
	else
		from = str_join("%U@", maildomain);
	if (from == NULL)
		return oom(e);
	str_wipe_free(&a->from);
	a->from = from;
	a->isset[K_FROM] = 1;
	return 0;
}

/* Legacy auto_from on: from becomes "%U" (maildomain, if given after it
 * or remembered by the parser, adds "@DOMAIN").  off only drops the flag. */
static int set_auto_from(struct account *a, const struct command *cmd,
			 const char *arg, const char *where, struct err *e)
{
	int v = parse_onoff(arg);

	if (v < 0)
		return bad_arg(where, cmd->name, arg, e);
	a->isset[K_AUTO_FROM] = (unsigned char)v;
	if (v)
		return set_auto_from_address(a, NULL, e);
	return 0;
}

/* Legacy maildomain: only has an effect while auto_from is on. */
static int set_maildomain(struct account *a, const struct command *cmd,
			  const char *arg, const char *where, struct err *e)
{
	if (has_line_break(arg) || strpbrk(arg, " \t@") != NULL)
		return bad_arg(where, cmd->name, arg, e);
	if (!a->isset[K_AUTO_FROM])
		return 0;
	return set_auto_from_address(a, arg, e);
}

/* oauth2_provider: a preset name, or "" / "off" for none. */
static int set_oauth2_provider(struct account *a, const struct command *cmd,
			       const char *arg, const char *where,
			       struct err *e)
{
	static const char *const words[] = { "off", "microsoft", "google",
					     "custom" };
	int i;

	if (arg[0] == '\0') {
		*cmd_int(a, cmd) = CONF_OAUTH2_NONE;
		return 0;
	}
	for (i = 0; i < (int)NELEM(words); i++)
		if (strcmp(arg, words[i]) == 0) {
			*cmd_int(a, cmd) = i;
			return 0;
		}
	return bad_arg(where, cmd->name, arg, e);
}

static int set_oauth2_flow(struct account *a, const struct command *cmd,
			   const char *arg, const char *where, struct err *e)
{
	if (arg[0] == '\0')
		*cmd_int(a, cmd) = CONF_OAUTH2_FLOW_UNSET;
	else if (strcmp(arg, "device") == 0)
		*cmd_int(a, cmd) = CONF_OAUTH2_FLOW_DEVICE;
	else if (strcmp(arg, "code") == 0)
		*cmd_int(a, cmd) = CONF_OAUTH2_FLOW_CODE;
	else
		return bad_arg(where, cmd->name, arg, e);
	return 0;
}

/* oauth2_refresh_margin: 0 or more seconds. */
static int set_nonneg(struct account *a, const struct command *cmd,
		      const char *arg, const char *where, struct err *e)
{
	long v = 0;

	if (parse_number(arg, 0, INT_MAX, &v) < 0)
		return bad_arg(where, cmd->name, arg, e);
	*cmd_int(a, cmd) = (int)v;
	return 0;
}

/* oauth2_token_store: "keyring", or a file (~ expanded). */
static int set_token_store(struct account *a, const struct command *cmd,
			   const char *arg, const char *where, struct err *e)
{
	if (strcmp(arg, "keyring") == 0)
		return set_string(a, cmd, arg, where, e);
	return set_path(a, cmd, arg, where, e);
}

static const struct command commands[] = {
	{ "host", K_HOST, set_string },
	{ "port", K_PORT, set_port },
	{ "source_ip", K_SOURCE_IP, set_string },
	{ "proxy_host", K_PROXY_HOST, set_string },
	{ "proxy_port", K_PROXY_PORT, set_port },
	{ "socket", K_SOCKET, set_string },
	{ "ip_family", K_IP_FAMILY, set_ip_family },
	{ "timeout", K_TIMEOUT, set_timeout },
	{ "connect_timeout", K_TIMEOUT, set_timeout },
	{ "protocol", K_PROTOCOL, set_protocol },
	{ "domain", K_DOMAIN, set_string },
	{ "auth", K_AUTH, set_auth },
	{ "user", K_USER, set_string },
	{ "password", K_PASSWORD, set_secret },
	{ "passwordeval", K_PASSWORDEVAL, set_string },
	{ "ntlmdomain", K_NTLMDOMAIN, set_string },
	{ "tls", K_TLS, set_onoff },
	{ "tls_starttls", K_TLS_STARTTLS, set_onoff },
	{ "tls_trust_file", K_TLS_TRUST_FILE, set_trust_file },
	{ "tls_crl_file", K_TLS_CRL_FILE, set_path },
	{ "tls_fingerprint", K_TLS_FINGERPRINT, set_fingerprint },
	{ "tls_key_file", K_TLS_KEY_FILE, set_path },
	{ "tls_cert_file", K_TLS_CERT_FILE, set_path },
	{ "tls_certcheck", K_TLS_CERTCHECK, set_onoff },
	{ "tls_priorities", K_TLS_PRIORITIES, set_string },
	{ "tls_host_override", K_TLS_HOST_OVERRIDE, set_string },
	{ "tls_session_cache", K_TLS_SESSION_CACHE, set_onoff },
	{ "tls_min_dh_prime_bits", K_TLS_MIN_DH_PRIME_BITS, set_posint },
	{ "from", K_FROM, set_string },
	{ "from_full_name", K_FROM_FULL_NAME, set_string },
	{ "allow_from_override", K_ALLOW_FROM_OVERRIDE, set_onoff },
	{ "dsn_notify", K_DSN_NOTIFY, set_dsn_notify },
	{ "dsn_return", K_DSN_RETURN, set_dsn_return },
	{ "set_from_header", K_SET_FROM_HEADER, set_from_hdr },
	{ "set_date_header", K_SET_DATE_HEADER, set_auto_off },
	{ "set_msgid_header", K_SET_MSGID_HEADER, set_auto_off },
	{ "set_to_header", K_SET_TO_HEADER, set_to_hdr },
	{ "remove_bcc_headers", K_REMOVE_BCC_HEADERS, set_onoff },
	{ "partial_delivery", K_PARTIAL_DELIVERY, set_onoff },
	{ "chunking", K_CHUNKING, set_onoff },
	{ "queue", K_QUEUE, set_queue },
	{ "queue_dir", K_QUEUE_DIR, set_path },
	{ "queue_lifetime", K_QUEUE_LIFETIME, set_duration },
	{ "queue_backoff", K_QUEUE_BACKOFF, set_duration },
	{ "queue_notify", K_QUEUE_NOTIFY, set_onoff },
	{ "queue_opportunistic", K_QUEUE_OPPORTUNISTIC, set_onoff },
	{ "failover", K_FAILOVER, set_failover },
	{ "logfile", K_LOGFILE, set_path },
	{ "logfile_time_format", K_LOGFILE_TIME_FORMAT, set_string },
	{ "logfile_format", K_LOGFILE_FORMAT, set_logfile_format },
	{ "syslog", K_SYSLOG, set_syslog },
	{ "aliases", K_ALIASES, set_path },
	{ "oauth2_provider", K_OAUTH2_PROVIDER, set_oauth2_provider },
	{ "oauth2_client_id", K_OAUTH2_CLIENT_ID, set_string },
	{ "oauth2_client_secret", K_OAUTH2_CLIENT_SECRET, set_string },
	{ "oauth2_tenant", K_OAUTH2_TENANT, set_string },
	{ "oauth2_scope", K_OAUTH2_SCOPE, set_string },
	{ "oauth2_flow", K_OAUTH2_FLOW, set_oauth2_flow },
	{ "oauth2_auth_endpoint", K_OAUTH2_AUTH_ENDPOINT, set_string },
	{ "oauth2_token_endpoint", K_OAUTH2_TOKEN_ENDPOINT, set_string },
	{ "oauth2_device_endpoint", K_OAUTH2_DEVICE_ENDPOINT, set_string },
	{ "oauth2_refresh_margin", K_OAUTH2_REFRESH_MARGIN, set_nonneg },
	{ "oauth2_token_store", K_OAUTH2_TOKEN_STORE, set_token_store },
	{ "oauth2_trust_file", K_OAUTH2_TRUST_FILE, set_path },
	/* legacy */
	{ "undisclosed_recipients", K_SET_TO_HEADER, set_undisclosed },
	{ "keepbcc", K_REMOVE_BCC_HEADERS, set_keepbcc },
	{ "add_missing_from_header", K_SET_FROM_HEADER, set_add_missing },
	{ "add_missing_date_header", K_SET_DATE_HEADER, set_add_missing },
	{ "tls_nocertcheck", K_TLS_CERTCHECK, set_negated },
	{ "tls_nostarttls", K_TLS_STARTTLS, set_negated },
	{ "tls_force_sslv3", K_NONE, set_ignored_onoff },
	{ "auto_from", K_NONE, set_auto_from },
	{ "maildomain", K_NONE, set_maildomain },
};

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < NELEM(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* "did you mean" for an unknown command: the closest command name
 * (the section commands included), when one is close enough. */
static void conf_hint_command(const char *cmd, struct err *e)
{
	static const char *const sections[] = { "account", "defaults", "eval" };
	struct err_near n;
	size_t i;

	err_near_init(&n, cmd);
	for (i = 0; i < NELEM(sections); i++)
		err_near_try(&n, sections[i]);
	for (i = 0; i < NELEM(commands); i++)
		err_near_try(&n, commands[i].name);
	if (err_near_best(&n) != NULL)
		err_hint(e, "did you mean '%s'?", err_near_best(&n));
}

/* An unknown command: the error, and a hint when a name is close. */
static int conf_unknown_command(const char *where, const char *cmd,
				struct err *e)
{
	err_set(e, ERR_CONFIG, "%s: unknown command %s", where, cmd);
	conf_hint_command(cmd, e);
	return -1;
}

int conf_account_set(struct account *a, const char *cmd, const char *arg,
		     const char *where, struct err *e)
{
	const struct command *c = find_command(cmd);

	if (where == NULL)
		where = "command line";
	if (arg == NULL)
		arg = "";
	if (c == NULL)
		return conf_unknown_command(where, cmd, e);
	if (c->set(a, c, arg, where, e) < 0)
		return -1;
	if (c->key != K_NONE)
		a->isset[c->key] = 1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* the conf list */

void conf_init(struct conf *c)
{
	c->v = NULL;
	c->n = 0;
	c->cap = 0;
	c->user_file = NULL;
	c->system_file = NULL;
	c->defaults = NULL;
	c->warnings = NULL;
	c->nwarnings = 0;
}

void conf_free(struct conf *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		conf_account_free(c->v[i]);
	free(c->v);
	free(c->user_file);
	free(c->system_file);
	conf_account_free(c->defaults);
	for (i = 0; i < c->nwarnings; i++)
		free(c->warnings[i]);
	free(c->warnings);
	conf_init(c);
}

/* Make room for `more` further accounts.  -1 on ENOMEM. */
static int conf_reserve(struct conf *c, size_t more)
{
	size_t ncap;
	struct account **nv;

	if (more <= c->cap - c->n)
		return 0;
	if (more > SIZE_MAX / sizeof *nv / 2 - c->n)
		return -1;
	ncap = c->cap ? c->cap : 8;
	while (ncap < c->n + more)
		ncap *= 2;
	nv = realloc(c->v, ncap * sizeof *nv);
	if (nv == NULL)
		return -1;
	c->v = nv;
	c->cap = ncap;
	return 0;
}

static int conf_push(struct conf *c, struct account *a)
{
	if (conf_reserve(c, 1) < 0)
		return -1;
	c->v[c->n++] = a;
	return 0;
}

/* Remove (and free) the account called name, keeping the order. */
static void conf_remove(struct conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		if (strcmp(c->v[i]->name, name) != 0)
			continue;
		conf_account_free(c->v[i]);
		memmove(&c->v[i], &c->v[i + 1], (c->n - i - 1) * sizeof *c->v);
		c->n--;
		return;
	}
}

/* Move the accounts of one parsed file into c; a new account replaces an
 * older one of the same name (user file over system file). */
static int conf_merge(struct conf *c, struct conf *add, struct err *e)
{
	size_t i;

	if (conf_reserve(c, add->n) < 0)
		return oom(e);
	for (i = 0; i < add->n; i++) {
		conf_remove(c, add->v[i]->name);
		c->v[c->n++] = add->v[i];
	}
	add->n = 0;
	return 0;
}

struct account *conf_find(const struct conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->v[i]->name, name) == 0)
			return c->v[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* parser */

struct parser {
	struct conf *c;         /* accounts of earlier files (parents) */
	struct conf out;        /* accounts defined by this text */
	const char *path;
	int is_user_file;
	int lineno;
	/* "path:line" of the line being parsed, for messages; on the heap,
	 * sized for the path, so the parser is a small frame */
	char *where;
	size_t where_size;
	struct account *defaults;
	struct account *cur;    /* section being filled; NULL before any */
	/* legacy maildomain remembered per section, so `maildomain` may come
	 * before `auto_from` as old configurations have it */
	char *defaults_maildomain;
	char *account_maildomain;
	char **maildomain;      /* slot of the current section */
	int saw_password;       /* a literal `password` line (not from eval) */
};

static int parser_init(struct parser *p, struct conf *c, const char *path,
		       int is_user_file)
{
	memset(p, 0, sizeof *p);
	conf_init(&p->out);
	p->c = c;
	p->path = path;
	p->is_user_file = is_user_file;
	p->maildomain = &p->defaults_maildomain;
	p->where_size = strlen(path) + sizeof ":-2147483648";
	p->where = malloc(p->where_size);
	if (p->where == NULL)
		return -1;
	snprintf(p->where, p->where_size, "%s", path);
	p->defaults = conf_account_new("defaults");
	return p->defaults == NULL ? -1 : 0;
}

static void parser_free(struct parser *p)
{
	conf_free(&p->out);
	conf_account_free(p->defaults);
	str_wipe_free(&p->defaults_maildomain);
	str_wipe_free(&p->account_maildomain);
	free(p->where);
	p->where = NULL;
}

/* Non-empty, without ':' or ',' (the list syntax) and without control
 * bytes: names go into log lines, messages and queue envelopes, which
 * refuse them (found by fuzzing). */
static int valid_account_name(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;

	for (; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return name[0] != '\0' && strpbrk(name, ":,") == NULL;
}

static struct account *find_parent(struct parser *p, const char *name)
{
	struct account *a = conf_find(&p->out, name);

	return a != NULL ? a : conf_find(p->c, name);
}

/* Trimmed copy of s[0..len). */
static char *trimmed_copy(const char *s, size_t len)
{
	char *t;

	while (len > 0 && is_blank(*s)) {
		s++;
		len--;
	}
	while (len > 0 && is_blank(s[len - 1]))
		len--;
	t = malloc(len + 1);
	if (t == NULL)
		return NULL;
	memcpy(t, s, len);
	t[len] = '\0';
	return t;
}

/* Apply each parent of a comma list, in order (later ones win). */
static int apply_parents(struct parser *p, struct account *a,
			 const char *list, struct err *e)
{
	const char *s = list;

	for (;;) {
		size_t len = strcspn(s, ",");
		char *name = trimmed_copy(s, len);
		struct account *parent;

		if (name == NULL)
			return oom(e);
		if (!valid_account_name(name)) {
			char shown[BUF_SHOW_SIZE];

			buf_show(shown, sizeof shown, name, strlen(name));
			err_set(e, ERR_CONFIG, "%s: invalid account name '%s' "
			    "in list of parents", p->where, shown);
			free(name);
			return -1;
		}
		parent = find_parent(p, name);
		if (parent == NULL) {
			err_set(e, ERR_CONFIG, "%s: account %s not (yet) "
			    "defined", p->where, name);
			free(name);
			return -1;
		}
		free(name);
		if (inherit(a, parent) < 0)
			return oom(e);
		if (s[len] == '\0')
			return 0;
		s += len + 1;
	}
}

/* Start a new account section: a copy of the current defaults, then the
 * settings of each parent (parents may be NULL). */
static int start_account(struct parser *p, const char *name,
			 const char *parents, struct err *e)
{
	struct account *a;

	if (!valid_account_name(name)) {
		char shown[BUF_SHOW_SIZE];

		buf_show(shown, sizeof shown, name, strlen(name));
		return err_set(e, ERR_CONFIG, "%s: invalid account name '%s' "
		    "(must be non-empty, without ':', ',' or control "
		    "characters)", p->where, shown);
	}
	if (conf_find(&p->out, name) != NULL)
		return err_set(e, ERR_CONFIG, "%s: account %s was already "
		    "defined", p->where, name);
	a = conf_account_dup(p->defaults);
	if (a == NULL || str_replace(&a->name, name) < 0 ||
	    str_replace(&a->file, p->path) < 0) {
		conf_account_free(a);
		return oom(e);
	}
	a->line = p->lineno;
	a->isset[ISSET_USER_FILE] = p->is_user_file ? 1 : 0;
	if (parents != NULL && apply_parents(p, a, parents, e) < 0) {
		conf_account_free(a);
		return -1;
	}
	if (conf_push(&p->out, a) < 0) {
		conf_account_free(a);
		return oom(e);
	}
	p->cur = a;
	str_wipe_free(&p->account_maildomain);
	if (str_replace(&p->account_maildomain, p->defaults_maildomain) < 0)
		return oom(e);
	p->maildomain = &p->account_maildomain;
	return 0;
}

/* `account NAME` or `account NAME : PARENT[,PARENT...]`. */
static int cmd_account(struct parser *p, const char *arg, struct err *e)
{
	const char *colon = strchr(arg, ':');
	char *name;
	int r;

	if (arg[0] == '\0')
		return needs_arg(p->where, "account", e);
	name = trimmed_copy(arg, colon ? (size_t)(colon - arg) : strlen(arg));
	if (name == NULL)
		return oom(e);
	r = start_account(p, name, colon ? colon + 1 : NULL, e);
	free(name);
	return r;
}

static int cmd_defaults(struct parser *p, const char *arg, struct err *e)
{
	if (arg[0] != '\0')
		return err_set(e, ERR_CONFIG, "%s: command defaults does not "
		    "take an argument", p->where);
	p->cur = p->defaults;
	p->maildomain = &p->defaults_maildomain;
	return 0;
}

/* The limit for an eval command: the timeout in effect where the line
 * stands (set earlier in the section or taken from the defaults), and
 * CONF_DEFAULT_TIMEOUT when that is off: a hung command must not block
 * every mail. */
static int conf_eval_timeout(const struct parser *p)
{
	const struct account *a = p->cur != NULL ? p->cur : p->defaults;

	return a->timeout > 0 ? a->timeout : CONF_DEFAULT_TIMEOUT;
}

/* Judge a finished eval run: only its first output line counts (its exit
 * status is ignored, as in msmtp).  A trailing CR is dropped. */
static int conf_eval_result(struct parser *p, const char *cmd,
			    struct secret_cmd *run, struct err *e)
{
	char shown[BUF_SHOW_SIZE];

	/* the command is quoted, never raw on a terminal (found by
	 * fuzzing) */
	buf_show(shown, sizeof shown, cmd, strlen(cmd));
	if (run->timed_out)
		return err_set(e, ERR_CONFIG, "%s: eval command '%s' timed out "
		    "after %d seconds", p->where, shown, run->timeout);
	if (run->out_errno == E2BIG)
		return err_set(e, ERR_CONFIG, "%s: output of '%s' is longer "
		    "than %d characters", p->where, shown, CONF_LINE_MAX);
	if (run->out_errno != 0)
		return oom(e);
	if (!run->got_output)
		return err_set(e, ERR_IOERR, "%s: cannot read output of '%s'",
		    p->where, shown);
	if (run->out.len > 0 && run->out.data[run->out.len - 1] == '\r')
		run->out.data[--run->out.len] = '\0';
	return 0;
}

static int parse_line(struct parser *p, const char *s, size_t len,
		      int depth, struct err *e);

/* `eval CMD`: the first output line of CMD replaces the line.  CMD runs
 * with stdin from /dev/null (our stdin may carry the mail) under the
 * deadline secret_cmd_run() enforces. */
static int cmd_eval(struct parser *p, const char *arg, int depth,
		    struct err *e)
{
	struct secret_cmd run;
	int r;

	if (arg[0] == '\0')
		return needs_arg(p->where, "eval", e);
	if (depth >= CONF_EVAL_DEPTH_MAX)
		return err_set(e, ERR_CONFIG, "%s: eval nested too deeply",
		    p->where);
	secret_cmd_init(&run, conf_eval_timeout(p), CONF_LINE_MAX);
	run.first_line = 1;
	r = secret_cmd_run(&run, arg, e);
	if (r < 0)
		err_prefix(e, "%s: eval", p->where);
	if (r == 0)
		r = conf_eval_result(p, arg, &run, e);
	if (r == 0)
		r = parse_line(p, buf_str(&run.out), run.out.len, depth + 1, e);
	secret_cmd_free(&run);
	return r;
}

/* A setting line: goes to the current section, creating the implicit
 * account "default" when no section was opened yet (msmtp 1.2 files). */
static int cmd_setting(struct parser *p, const char *cmd, const char *arg,
		       int depth, struct err *e)
{
	if (find_command(cmd) == NULL)
		return conf_unknown_command(p->where, cmd, e);
	if (p->cur == NULL && start_account(p, "default", NULL, e) < 0)
		return -1;
	if (depth == 0 && strcmp(cmd, "password") == 0)
		p->saw_password = 1;
	if (conf_account_set(p->cur, cmd, arg, p->where, e) < 0)
		return -1;
	if (strcmp(cmd, "maildomain") == 0 &&
	    str_replace(p->maildomain, arg) < 0)
		return oom(e);
	if (strcmp(cmd, "auto_from") == 0 && p->cur->isset[K_AUTO_FROM] &&
	    *p->maildomain != NULL)
		return set_auto_from_address(p->cur, *p->maildomain, e);
	return 0;
}

/* The argument as written, or without its double quotes; inside quotes
 * \" and \\ stand for " and \ (other backslashes are kept). */
static int unquote(struct parser *p, const char *s, size_t len, char **out,
		   struct err *e)
{
	char *t;
	size_t i, n = 0;

	t = malloc(len + 1);
	if (t == NULL)
		return oom(e);
	if (len == 0 || s[0] != '"') {
		memcpy(t, s, len);
		t[len] = '\0';
		*out = t;
		return 0;
	}
	for (i = 1; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len &&
		    (s[i + 1] == '"' || s[i + 1] == '\\')) {
			t[n++] = s[++i];
		} else if (s[i] == '"') {
			break;
		} else {
			t[n++] = s[i];
		}
	}
	t[n] = '\0';
	if (i >= len || i != len - 1) {
		buf_wipe(t, n);
		free(t);
		if (i >= len)
			return err_set(e, ERR_CONFIG, "%s: missing closing "
			    "quote", p->where);
		return err_set(e, ERR_CONFIG, "%s: text after closing quote",
		    p->where);
	}
	*out = t;
	return 0;
}

/* One line (without its newline): blank and '#' lines are skipped; the
 * first word is the command, the trimmed rest its argument. */
static int parse_line(struct parser *p, const char *s, size_t len,
		      int depth, struct err *e)
{
	size_t i = 0, cmdlen, argstart;
	char cmd[32];
	char *arg = NULL;
	int r;

	if (memchr(s, '\0', len) != NULL)
		return err_set(e, ERR_CONFIG, "%s: line contains a NUL byte",
		    p->where);
	while (i < len && is_blank(s[i]))
		i++;
	while (len > i && is_blank(s[len - 1]))
		len--;
	if (i == len || s[i] == '#')
		return 0;
	cmdlen = 0;
	while (i + cmdlen < len && !is_blank(s[i + cmdlen]))
		cmdlen++;
	if (cmdlen >= sizeof cmd)
		return err_set(e, ERR_CONFIG, "%s: unknown command %.*s",
		    p->where, (int)cmdlen, s + i);
	memcpy(cmd, s + i, cmdlen);
	cmd[cmdlen] = '\0';
	argstart = i + cmdlen;
	while (argstart < len && is_blank(s[argstart]))
		argstart++;
	if (unquote(p, s + argstart, len - argstart, &arg, e) < 0)
		return -1;
	if (strcmp(cmd, "account") == 0)
		r = cmd_account(p, arg, e);
	else if (strcmp(cmd, "defaults") == 0)
		r = cmd_defaults(p, arg, e);
	else if (strcmp(cmd, "eval") == 0)
		r = cmd_eval(p, arg, depth, e);
	else
		r = cmd_setting(p, cmd, arg, depth, e);
	str_wipe_free(&arg);
	return r;
}

/* Split text into lines (LF or CRLF) and parse each. */
static int parse_text(struct parser *p, const char *text, size_t len,
		      struct err *e)
{
	size_t pos = 0;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;
		size_t linelen = end - pos;

		if (p->lineno == INT_MAX)
			return err_set(e, ERR_CONFIG, "%s: too many lines",
			    p->path);
		p->lineno++;
		snprintf(p->where, p->where_size, "%s:%d", p->path,
		    p->lineno);
		if (linelen > 0 && text[pos + linelen - 1] == '\r')
			linelen--;
		if (linelen > CONF_LINE_MAX)
			return err_set(e, ERR_CONFIG, "%s: line longer than "
			    "%d characters", p->where, CONF_LINE_MAX);
		if (parse_line(p, text + pos, linelen, 0, e) < 0)
			return -1;
		pos = end + 1;
	}
	return 0;
}

/* Parse text into a parser; the caller merges on success. */
static int parse_into(struct parser *p, struct conf *c, const char *path,
		      const char *text, size_t len, int is_user_file,
		      struct err *e)
{
	if (parser_init(p, c, path, is_user_file) < 0)
		return oom(e);
	return parse_text(p, text, len, e);
}

/* After a successful parse: the file's defaults section, as it stands at
 * the end of the file, replaces the one kept from an earlier file (the
 * queue needs it for entries whose account no longer exists). */
static int conf_keep_defaults(struct conf *c, struct parser *p,
			      struct err *e)
{
	if (str_replace(&p->defaults->file, p->path) < 0)
		return oom(e);
	conf_account_free(c->defaults);
	c->defaults = p->defaults;
	p->defaults = NULL;
	return 0;
}

int conf_load_text(struct conf *c, const char *path, const char *text,
		   size_t len, int is_user_file, struct err *e)
{
	struct parser p;
	int r;

	r = parse_into(&p, c, path, text, len, is_user_file, e);
	if (r == 0)
		r = conf_merge(c, &p.out, e);
	if (r == 0)
		r = conf_keep_defaults(c, &p, e);
	parser_free(&p);
	return r;
}

/* ------------------------------------------------------------------ */
/* files */

/* Read a whole file, bounded by CONF_FILE_MAX, straight into b: no
 * bounce buffer to wipe (the text may hold a password), and `size` (from
 * fstat) lets a regular file go in with one allocation. */
static int read_fd(int fd, const char *path, size_t size, struct buf *b,
		   struct err *e)
{
	size_t want = size > 0 ? size + 1 : 4096;
	ssize_t n;

	for (;;) {
		if (buf_room(b, want) < 0)
			return oom(e);
		if (b->len == CONF_FILE_MAX) {
			char extra;

			n = read(fd, &extra, 1);
			if (n < 0 && errno == EINTR)
				continue;
			if (n > 0)
				return err_set(e, ERR_CONFIG, "%s: file is "
				    "larger than %d bytes", path,
				    CONF_FILE_MAX);
		} else {
			n = read(fd, b->data + b->len, b->cap - 1 - b->len);
			if (n < 0 && errno == EINTR)
				continue;
		}
		if (n < 0)
			return err_set(e, ERR_IOERR, "cannot read %s: %s", path,
			    strerror(errno));
		if (n == 0)
			return 0;
		b->len += (size_t)n;
		b->data[b->len] = '\0';
		want = b->len;          /* double on the next round */
	}
}

/* The command that fixes a file's mode, ready to paste: the path as it
 * is when only safe characters are in it, else in single quotes (a '
 * in it as '\''). */
static void conf_hint_chmod(const char *path, struct err *e)
{
	char quoted[ERR_HINT_MAX];
	size_t i, o = 0;

	if (path[strspn(path, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvw"
			"xyz0123456789/._-+,:@%~")] == '\0') {
		err_hint(e, "chmod 600 %s", path);
		return;
	}
	quoted[o++] = '\'';
	for (i = 0; path[i] != '\0' && o + 5 < sizeof quoted; i++) {
		if (path[i] == '\'') {
			memcpy(quoted + o, "'\\''", 4);
			o += 4;
		} else {
			quoted[o++] = path[i];
		}
	}
	quoted[o++] = '\'';
	quoted[o] = '\0';
	err_hint(e, "chmod 600 %s", quoted);
}

/* A file holding a password must be private to its owner (no root
 * exemption, unlike msmtp: root's secrets deserve the same care). */
static int check_secret_perms(const char *path, const struct stat *st,
			      struct err *e)
{
	if (st->st_uid != geteuid())
		return err_set(e, ERR_CONFIG, "%s: contains secrets and "
		    "therefore must be owned by you", path);
	if ((st->st_mode & 0177) != 0) {
		err_set(e, ERR_CONFIG, "%s: contains secrets and "
		    "therefore must have no more than user read/write "
		    "permissions", path);
		conf_hint_chmod(path, e);
		return -1;
	}
	return 0;
}

/* An optional file that exists but may not be read (root's 0600
 * ~/.msmtprc when nobody runs us with HOME=/root, as cron and sudo do) is
 * skipped, as msmtp does; a warning for main() to print says so. */
static int conf_skip_unreadable(struct conf *c, const char *path,
				int is_user_file, int errnum, struct err *e)
{
	struct buf msg;
	char **nv;

	buf_init(&msg, CONF_WHERE_MAX + 128);
	if (buf_printf(&msg, "ignoring %s configuration file %s: %s",
	    is_user_file ? "user" : "system", path, strerror(errnum)) < 0 &&
	    errno != E2BIG) {
		buf_free(&msg);
		return oom(e);
	}
	nv = realloc(c->warnings, (c->nwarnings + 1) * sizeof *nv);
	if (nv == NULL) {
		buf_free(&msg);
		return oom(e);
	}
	c->warnings = nv;
	c->warnings[c->nwarnings] = buf_steal(&msg);
	if (c->warnings[c->nwarnings] == NULL)
		return oom(e);
	c->nwarnings++;
	return 0;
}

int conf_load_file(struct conf *c, const char *path, int is_user_file,
		   int must_exist, struct err *e)
{
	struct parser p;
	struct stat st;
	struct buf text;
	char **slot;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY
		  | (c->regular_only ? O_NONBLOCK : 0));
	if (fd < 0) {
		if (!must_exist && (errno == ENOENT || errno == ENOTDIR))
			return 0;
		if (!must_exist && (errno == EACCES || errno == EPERM))
			return conf_skip_unreadable(c, path, is_user_file,
			    errno, e);
		return err_set(e, ERR_IOERR, "cannot open %s: %s", path,
		    strerror(errno));
	}
	if (fstat(fd, &st) < 0) {
		r = err_set(e, ERR_IOERR, "cannot stat %s: %s", path,
		    strerror(errno));
		close(fd);
		return r;
	}
	if (c->regular_only && !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, ERR_CONFIG, "%s is not a regular file", path);
	}
	buf_init(&text, CONF_FILE_MAX);
	r = read_fd(fd, path, S_ISREG(st.st_mode) && st.st_size > 0
		    && st.st_size < CONF_FILE_MAX ? (size_t)st.st_size : 0,
		    &text, e);
	close(fd);
	if (r == 0) {
		r = parse_into(&p, c, path, buf_str(&text), text.len,
		    is_user_file, e);
		if (r == 0 && is_user_file && p.saw_password)
			r = check_secret_perms(path, &st, e);
		if (r == 0)
			r = conf_merge(c, &p.out, e);
		if (r == 0)
			r = conf_keep_defaults(c, &p, e);
		parser_free(&p);
	}
	buf_free(&text);
	if (r < 0)
		return -1;
	slot = is_user_file ? &c->user_file : &c->system_file;
	if (str_replace(slot, path) < 0)
		return oom(e);
	return 0;
}

char *conf_system_path(void)
{
	return strdup(SYSCONFDIR "/msmtprc");
}

/* $XDG_CONFIG_HOME/msmtp/config, the XDG default ~/.config when the
 * variable is unset or relative (the spec says to ignore a relative
 * value). */
static char *conf_xdg_user_path(const char *home)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	char *path, *dir;

	if (xdg != NULL && xdg[0] == '/')
		return str_join(xdg, "/msmtp/config");
	dir = str_join(home, "/.config");
	if (dir == NULL)
		return NULL;
	path = str_join(dir, "/msmtp/config");
	free(dir);
	return path;
}

char *conf_user_path(void)
{
	const char *home = conf_home_dir();
	struct stat st;
	char *path;

	if (home == NULL) {
		errno = ENOENT;
		return NULL;
	}
	path = str_join(home, "/.msmtprc");
	if (path == NULL || stat(path, &st) == 0 || errno != ENOENT)
		return path;
	free(path);
	return conf_xdg_user_path(home);
}

/* No configuration file was read: name the files looked for, as this
 * run would find them (no hint when memory is short: the error stays). */
static void conf_hint_no_file(struct err *e)
{
	const char *home = conf_home_dir();
	char *sys = conf_system_path();
	char *dot = home ? str_join(home, "/.msmtprc") : NULL;
	char *xdg = home ? conf_xdg_user_path(home) : NULL;

	if (sys != NULL && home == NULL)
		err_hint(e, "no configuration file found; looked for %s (and "
		    "no home directory for a user file)", sys);
	else if (sys != NULL && dot != NULL && xdg != NULL)
		err_hint(e, "no configuration file found; looked for %s, %s "
		    "and %s", dot, xdg, sys);
	free(sys);
	free(dot);
	free(xdg);
}

/* ------------------------------------------------------------------ */
/* selection */

int conf_from_is_pattern(const char *from)
{
	return from != NULL && strpbrk(from, "*?[") != NULL;
}

static int from_matches(const char *from, const char *addr)
{
	if (conf_from_is_pattern(from))
		return fnmatch(from, addr, FNM_CASEFOLD) == 0;
	return strcasecmp(from, addr) == 0;
}

/* "user+detail@dom" -> "user@dom"; NULL if there is no detail (or on
 * ENOMEM, which then just means no second try). */
static char *strip_detail(const char *addr)
{
	const char *at = strrchr(addr, '@');
	size_t local_len = at ? (size_t)(at - addr) : strlen(addr);
	const char *plus = memchr(addr, '+', local_len);
	size_t keep, rest;
	char *s;

	if (plus == NULL || plus == addr)
		return NULL;
	keep = (size_t)(plus - addr);
	rest = at ? strlen(at) : 0;
	s = malloc(keep + rest + 1);
	if (s == NULL)
		return NULL;
	memcpy(s, addr, keep);
	if (at != NULL)
		memcpy(s + keep, at, rest);
	s[keep + rest] = '\0';
	return s;
}

struct account *conf_find_by_from(const struct conf *c, const char *addr)
{
	char *plain = strip_detail(addr);
	struct account *found = NULL;
	int from_user_file;
	size_t i;

	/* system-file accounts first, as msmtp does */
	for (from_user_file = 0; from_user_file < 2 && !found;
	    from_user_file++) {
		for (i = 0; i < c->n && !found; i++) {
			struct account *a = c->v[i];

			if (a->from == NULL ||
			    a->isset[ISSET_USER_FILE] != from_user_file)
				continue;
			if (from_matches(a->from, addr) ||
			    (plain != NULL && from_matches(a->from, plain)))
				found = a;
		}
	}
	free(plain);
	return found;
}

/* The file named in "account X not found in FILE" messages. */
static const char *conf_file_for_msg(const struct conf *c)
{
	return c->user_file ? c->user_file : c->system_file;
}

static int not_found(const struct conf *c, const char *name, struct err *e)
{
	const char *file = conf_file_for_msg(c);

	if (file != NULL)
		return err_set(e, ERR_CONFIG, "account %s not found in %s",
		    name, file);
	err_set(e, ERR_CONFIG, "account %s not found: no "
	    "configuration file available", name);
	conf_hint_no_file(e);
	return -1;
}

/* The SMTPSERVER / EMAIL fallback when no account applies. */
static struct account *environment_account(const char *server,
					   struct err *e)
{
	const char *email = getenv("EMAIL");
	struct account *a = conf_account_new("environment");

	if (a == NULL || str_replace(&a->file, "environment") < 0) {
		conf_account_free(a);
		oom(e);
		return NULL;
	}
	if (conf_account_set(a, "host", server, "SMTPSERVER", e) < 0 ||
	    (email != NULL && email[0] != '\0' &&
	    conf_account_set(a, "from", email, "EMAIL", e) < 0)) {
		conf_account_free(a);
		return NULL;
	}
	return a;
}

static struct account *dup_or_oom(const struct account *a, struct err *e)
{
	struct account *d = conf_account_dup(a);

	if (d == NULL)
		oom(e);
	return d;
}

struct account *conf_select(const struct conf *c, const char *name,
			    const char *envelope_from, struct err *e)
{
	const struct account *a;
	const char *server;

	if (name != NULL) {
		a = conf_find(c, name);
		if (a == NULL) {
			not_found(c, name, e);
			return NULL;
		}
		return dup_or_oom(a, e);
	}
	if (envelope_from != NULL && envelope_from[0] != '\0') {
		a = conf_find_by_from(c, envelope_from);
		if (a != NULL)
			return dup_or_oom(a, e);
	}
	a = conf_find(c, "default");
	if (a != NULL)
		return dup_or_oom(a, e);
	server = getenv("SMTPSERVER");
	if (server != NULL && server[0] != '\0')
		return environment_account(server, e);
	not_found(c, "default", e);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* finishing */

/* %U: $USER, else $LOGNAME, else the login name of the real uid. */
static int append_user(struct buf *b, struct err *e)
{
	const char *u = getenv("USER");
	struct passwd *pw;

	if (u == NULL || u[0] == '\0')
		u = getenv("LOGNAME");
	if (u == NULL || u[0] == '\0') {
		pw = getpwuid(getuid());
		u = pw != NULL ? pw->pw_name : NULL;
	}
	if (u == NULL || u[0] == '\0')
		return err_set(e, ERR_CONFIG, "cannot determine the user name "
		    "for %%U");
	return buf_append_str(b, u);
}

static int get_host_name(char *name, size_t size, struct err *e)
{
	if (gethostname(name, size - 1) < 0)
		return err_set(e, ERR_CONFIG, "cannot get the host name for "
		    "%%H: %s", strerror(errno));
	name[size - 1] = '\0';
	return 0;
}

static int append_host(struct buf *b, struct err *e)
{
	char name[HOST_NAME_MAX + 2];

	if (get_host_name(name, sizeof name, e) < 0)
		return -1;
	return buf_append_str(b, name);
}

/* %C: the canonical name of the host name, or the host name itself. */
static int append_canonical_host(struct buf *b, struct err *e)
{
	char name[HOST_NAME_MAX + 2];
	struct addrinfo hints, *res = NULL;
	int r;

	if (get_host_name(name, sizeof name, e) < 0)
		return -1;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_CANONNAME;
	if (getaddrinfo(name, NULL, &hints, &res) == 0 && res != NULL &&
	    res->ai_canonname != NULL && res->ai_canonname[0] != '\0')
		r = buf_append_str(b, res->ai_canonname);
	else
		r = buf_append_str(b, name);
	if (res != NULL)
		freeaddrinfo(res);
	return r;
}

/* %M: the first line of SYSCONFDIR/mailname. */
static int append_mailname(struct buf *b, struct err *e)
{
	static const char path[] = SYSCONFDIR "/mailname";
	char line[1024];
	FILE *f;
	size_t len;

	f = fopen(path, "re");
	if (f == NULL && errno == ENOMEM)
		return oom(e);
	if (f == NULL)
		return err_set(e, ERR_CONFIG, "cannot read %s: %s", path,
		    strerror(errno));
	if (fgets(line, sizeof line, f) == NULL)
		line[0] = '\0';
	fclose(f);
	len = strcspn(line, "\r\n");
	while (len > 0 && is_blank(line[len - 1]))
		len--;
	if (len == 0)
		return err_set(e, ERR_CONFIG, "cannot read %s: no name in it",
		    path);
	return buf_append(b, line, len);
}

/* Replace %U %H %C %M and %% in *value; %F and unknown %x stay. */
static int expand_patterns(char **value, struct err *e)
{
	struct buf b;
	const char *s = *value;
	int r = 0;

	if (strchr(s, '%') == NULL)
		return 0;
	buf_init(&b, CONF_EXPAND_MAX);
	for (; *s != '\0' && r == 0; s++) {
		if (s[0] != '%' || s[1] == '\0') {
			r = buf_append_byte(&b, *s);
			continue;
		}
		switch (*++s) {
		case 'U': r = append_user(&b, e); break;
		case 'H': r = append_host(&b, e); break;
		case 'C': r = append_canonical_host(&b, e); break;
		case 'M': r = append_mailname(&b, e); break;
		case '%': r = buf_append_byte(&b, '%'); break;
		default:
			r = buf_append_byte(&b, '%');
			if (r == 0)
				r = buf_append_byte(&b, *s);
			break;
		}
	}
	if (r < 0) {
		buf_free(&b);
		if (!err_isset(e) && errno == E2BIG)
			return err_set(e, ERR_CONFIG, "expansion of %s is "
			    "longer than %d characters", *value,
			    CONF_EXPAND_MAX);
		return err_isset(e) ? -1 : oom(e);
	}
	free(*value);
	*value = buf_steal(&b);
	return *value == NULL ? oom(e) : 0;
}

/* A preset value (head, mid and tail joined) where the account set none. */
static int conf_oauth2_default(char **slot, const char *head, const char *mid,
			       const char *tail, struct err *e)
{
	char buf[1024];

	if (*slot != NULL)
		return 0;
	snprintf(buf, sizeof buf, "%s%s%s", head, mid, tail);
	if ((*slot = strdup(buf)) == NULL)
		return oom(e);
	return 0;
}

/* The Microsoft identity platform's endpoints for the tenant. */
static int conf_oauth2_microsoft(struct account *a, struct err *e)
{
	char **slots[3];
	int i;

	slots[0] = &a->oauth2_device_endpoint;
	slots[1] = &a->oauth2_token_endpoint;
	slots[2] = &a->oauth2_auth_endpoint;
	if (conf_oauth2_default(&a->oauth2_tenant, "common", "", "", e) < 0)
		return -1;
	for (i = 0; i < 3; i++)
		if (conf_oauth2_default(slots[i], "https://login.microsoftonline."
					"com/", a->oauth2_tenant, i == 0
					? "/oauth2/v2.0/devicecode" : i == 1
					? "/oauth2/v2.0/token"
					: "/oauth2/v2.0/authorize", e) < 0)
			return -1;
	if (conf_oauth2_default(&a->oauth2_scope, "https://outlook.office.com/"
				"SMTP.Send offline_access", "", "", e) < 0)
		return -1;
	if (a->oauth2_flow == CONF_OAUTH2_FLOW_UNSET)
		a->oauth2_flow = CONF_OAUTH2_FLOW_DEVICE;
	return 0;
}

/* The provider presets (an explicit value always wins). */
static int conf_oauth2_presets(struct account *a, struct err *e)
{
	if (a->oauth2_provider == CONF_OAUTH2_MICROSOFT)
		return conf_oauth2_microsoft(a, e);
	if (a->oauth2_provider == CONF_OAUTH2_GOOGLE) {
		if (conf_oauth2_default(&a->oauth2_auth_endpoint, "https://"
					"accounts.google.com/o/oauth2/v2/auth",
					"", "", e) < 0
		    || conf_oauth2_default(&a->oauth2_token_endpoint, "https://"
					   "oauth2.googleapis.com/token", "", "",
					   e) < 0
		    || conf_oauth2_default(&a->oauth2_scope,
					   "https://mail.google.com/", "", "",
					   e) < 0)
			return -1;
		if (a->oauth2_flow == CONF_OAUTH2_FLOW_UNSET)
			a->oauth2_flow = CONF_OAUTH2_FLOW_CODE;
	} else if (a->oauth2_flow == CONF_OAUTH2_FLOW_UNSET) {
		a->oauth2_flow = a->oauth2_device_endpoint
			? CONF_OAUTH2_FLOW_DEVICE : CONF_OAUTH2_FLOW_CODE;
	}
	return 0;
}

/* The endpoint the flow needs is set and speaks HTTPS. */
static int conf_oauth2_endpoint(const struct account *a, const char *cmd,
				const char *url, struct err *e)
{
	if (url == NULL)
		return err_set(e, ERR_CONFIG, "account %s: %s is not set", a->name,
			       cmd);
	if (strncasecmp(url, "https://", 8) != 0)
		return err_set(e, ERR_CONFIG, "account %s: %s must be an https:// "
			       "address", a->name, cmd);
	return 0;
}

/* OAuth2 accounts: presets, then what must hold for a login and a send. */
static int conf_oauth2_finish(struct account *a, struct err *e)
{
	if (a->oauth2_provider == CONF_OAUTH2_NONE)
		return 0;
	if (a->password || a->passwordeval)
		return err_set(e, ERR_CONFIG, "account %s: oauth2_provider cannot "
			       "be combined with %s (the access token is the "
			       "password)", a->name,
			       a->password ? "password" : "passwordeval");
	if (a->oauth2_client_id == NULL)
		return err_set(e, ERR_CONFIG, "account %s: oauth2_client_id is not "
			       "set (register an application with the provider: "
			       "see msmtp(1), OAUTH2)", a->name);
	if (conf_oauth2_presets(a, e) < 0
	    || conf_oauth2_endpoint(a, "oauth2_token_endpoint",
				    a->oauth2_token_endpoint, e) < 0
	    || (a->oauth2_flow == CONF_OAUTH2_FLOW_DEVICE
		&& conf_oauth2_endpoint(a, "oauth2_device_endpoint",
					a->oauth2_device_endpoint, e) < 0)
	    || (a->oauth2_flow == CONF_OAUTH2_FLOW_CODE
		&& conf_oauth2_endpoint(a, "oauth2_auth_endpoint",
					a->oauth2_auth_endpoint, e) < 0))
		return -1;
	if (a->auth == NULL && (a->auth = strdup("on")) == NULL)
		return oom(e);
	if (strcmp(a->auth, "on") != 0 && strcmp(a->auth, "xoauth2") != 0
	    && strcmp(a->auth, "oauthbearer") != 0)
		return err_set(e, ERR_CONFIG, "account %s: with oauth2_provider, "
			       "auth must be on, xoauth2 or oauthbearer (not %s)",
			       a->name, a->auth);
#ifndef HAVE_LIBSECRET
	if (a->oauth2_token_store && strcmp(a->oauth2_token_store, "keyring") == 0)
		return err_set(e, ERR_CONFIG, "account %s: oauth2_token_store "
			       "keyring needs a build with libsecret", a->name);
#endif
	return 0;
}

int conf_account_finish(struct account *a, struct err *e)
{
	if (conf_oauth2_finish(a, e) < 0)
		return -1;

	if (a->from != NULL && !conf_from_is_pattern(a->from) &&
	    expand_patterns(&a->from, e) < 0)
		return -1;
	if (a->domain == NULL && (a->domain = strdup("localhost")) == NULL)
		return oom(e);
	if (expand_patterns(&a->domain, e) < 0)
		return -1;
	if (a->host == NULL && a->socket == NULL)
		return err_set(e, ERR_CONFIG, "host not set");
	if (a->port == 0 && a->protocol == CONF_PROTO_LMTP) {
		if (a->socket == NULL)
			return err_set(e, ERR_CONFIG, "port not set");
	} else if (a->port == 0) {
		/* RFC 8314: 465 for implicit TLS, 587 (submission) for
		 * STARTTLS, 25 without TLS */
		a->port = a->tls != CONF_ON ? 25
		    : a->tls_starttls == CONF_OFF ? 465 : 587;
	}
	if (a->proxy_host != NULL && a->proxy_port == 0)
		a->proxy_port = 1080;
	if (a->tls_key_file != NULL && a->tls_cert_file == NULL)
		return err_set(e, ERR_CONFIG, "tls_key_file requires "
		    "tls_cert_file");
	if (a->tls_cert_file != NULL && a->tls_key_file == NULL)
		return err_set(e, ERR_CONFIG, "tls_cert_file requires "
		    "tls_key_file");
	return 0;
}

int conf_account_from_user_file(const struct account *a)
{
	return a->isset[ISSET_USER_FILE] != 0;
}

int conf_load_all(struct conf *c, const char *user_file, struct err *e)
{
	char *path = conf_system_path();
	int rc;

	if (path == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	rc = conf_load_file(c, path, 0, 0, e);
	free(path);
	if (rc < 0)
		return -1;
	if (user_file)
		return conf_load_file(c, user_file, 1, 1, e);
	path = conf_user_path();
	if (path == NULL) /* no home directory: no user file */
		return errno == ENOENT ? 0 : err_set(e, ERR_OSERR, "out of memory");
	rc = conf_load_file(c, path, 1, 0, e);
	free(path);
	return rc;
}
