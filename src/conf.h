/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * conf - msmtprc configuration: parsing, inheritance, account selection.
 *
 * Reads msmtprc files (syntax as msmtp documents it), builds a list of
 * accounts, picks one for a run and applies command-line settings on top.
 * Every error names FILE:LINE and carries ERR_CONFIG (78), except a -C file
 * that cannot be opened (ERR_IOERR, 74, as msmtp does) and eval command
 * failures (ERR_IOERR when the command prints nothing, ERR_OSERR when it
 * cannot be started).  An eval command runs under the timeout in effect
 * on its line (CONF_DEFAULT_TIMEOUT when none or off) through
 * secret_cmd_run(); past it, its process group is killed (ERR_CONFIG).
 * Hints (err.h) go with an unknown command close to a known one ("did
 * you mean"), a password file others may read ("chmod 600 FILE"), and an
 * account looked for when no file was found (the files looked for).
 *
 * A `struct account` is plain data; fields are named after the msmtprc
 * command that sets them so every field maps to the manual.  Command-line
 * options reach an account through conf_account_set() with the msmtprc
 * command name, so both paths share one validator.
 */
#ifndef MSMTP_CONF_H
#define MSMTP_CONF_H

#include <stddef.h>
#include "err.h"

enum { CONF_OFF = 0, CONF_ON = 1, CONF_AUTO = 2 };
/* set_to_header has a third state */
enum { CONF_TO_OFF = 0, CONF_TO_ON = 1, CONF_TO_UNDISCLOSED = 2 };
enum { CONF_PROTO_SMTP = 0, CONF_PROTO_LMTP = 1 };
/* queue: what happens to a message the server cannot take now */
enum { CONF_QUEUE_OFF = 0, CONF_QUEUE_TEMPFAIL = 1, CONF_QUEUE_ALWAYS = 2 };
#define CONF_DEFAULT_QUEUE_LIFETIME (5 * 24 * 3600)
#define CONF_DEFAULT_QUEUE_BACKOFF (5 * 60)
/* logfile_format: the delivery record as msmtp's text line or as JSON */
enum { CONF_LOGFILE_TEXT = 0, CONF_LOGFILE_JSON = 1 };
/* OAuth2 (built in): the provider preset and the grant used to log in */
enum { CONF_OAUTH2_NONE = 0, CONF_OAUTH2_MICROSOFT, CONF_OAUTH2_GOOGLE,
       CONF_OAUTH2_CUSTOM };
enum { CONF_OAUTH2_FLOW_UNSET = 0, CONF_OAUTH2_FLOW_DEVICE,
       CONF_OAUTH2_FLOW_CODE };
#define CONF_DEFAULT_OAUTH2_REFRESH_MARGIN 300
/* ip_family: which addresses the resolver may return */
enum { CONF_IP_ANY = 0, CONF_IP_V4 = 1, CONF_IP_V6 = 2 };
/* tls: CONF_TLS_UNSET means "not said": the secure default applies later
 * (issue TLS: STARTTLS except for loopback and sockets). */
enum { CONF_TLS_UNSET = -1 };

/* Default network timeout in seconds when `timeout` is not set: the
 * default must never hang forever. */
#define CONF_DEFAULT_TIMEOUT 60
/* Longest accepted configuration line (OAuth tokens can be long). */
#define CONF_LINE_MAX 65536

struct account {
	char *name;             /* "default" for the default account */
	char *file;             /* file that defined it, or "command line" */
	int line;               /* line of its `account` command (0 if none) */

	/* connection */
	char *host;
	int port;               /* 0 = not set (derived later) */
	char *source_ip;
	char *proxy_host;
	int proxy_port;         /* 0 = not set */
	char *socket;
	int ip_family;          /* CONF_IP_* (default any) */
	int timeout;            /* seconds; 0 = off (still bounded: see net) */
	int protocol;           /* CONF_PROTO_* */
	char *domain;           /* EHLO/LHLO argument; default "localhost" */

	/* authentication */
	char *auth;             /* NULL or "off", "on", or a lower-case method */
	char *user;
	char *password;         /* secret: never print */
	char *passwordeval;
	char *ntlmdomain;

	/* TLS */
	int tls;                /* CONF_TLS_UNSET, CONF_OFF, CONF_ON */
	int tls_starttls;       /* CONF_ON (default) / CONF_OFF */
	char *tls_trust_file;   /* NULL = unset ("system"); "" = none */
	char *tls_crl_file;
	char *tls_fingerprint;
	char *tls_key_file;
	char *tls_cert_file;
	int tls_certcheck;      /* CONF_ON / CONF_OFF */
	char *tls_priorities;
	char *tls_host_override;
	int tls_min_dh_prime_bits; /* 0 = unset; accepted, deprecated */
	int tls_session_cache;  /* CONF_ON (default): resume TLS sessions
				   across runs (tlscache.h) / CONF_OFF */

	/* envelope and headers */
	char *from;             /* address, or glob pattern used only to match -f */
	char *from_full_name;
	int allow_from_override;/* CONF_ON / CONF_OFF */
	char *dsn_notify;       /* NULL/"off", "never", or "failure,delay,success" subset */
	char *dsn_return;       /* NULL/"off", "headers", "full" */
	int set_from_header;    /* CONF_AUTO / CONF_ON / CONF_OFF */
	int set_date_header;    /* CONF_AUTO / CONF_OFF */
	int set_msgid_header;   /* CONF_AUTO / CONF_OFF */
	int set_to_header;      /* CONF_TO_* */
	int remove_bcc_headers; /* CONF_ON / CONF_OFF */
	int partial_delivery;   /* CONF_OFF (default) / CONF_ON */
	int chunking;           /* CONF_ON (default): BDAT when the server
				   offers CHUNKING (RFC 3030) / CONF_OFF */

	/* store-and-forward queue */
	int queue;              /* CONF_QUEUE_* (default off, as msmtp) */
	char *queue_dir;        /* NULL: $XDG_STATE_HOME/msmtp/queue */
	int queue_lifetime;     /* seconds before a queued message expires */
	int queue_backoff;      /* first retry delay in seconds; doubles */
	int queue_notify;       /* CONF_ON: tell the sender when one expires */
	int queue_opportunistic;/* CONF_ON: flush due entries after a send */
	char *failover;         /* comma list of accounts tried on tempfail */

	/* OAuth2: access tokens obtained and refreshed by msmtp itself; the
	 * presets (conf_account_finish) fill endpoints, scope and flow */
	int oauth2_provider;    /* CONF_OAUTH2_* */
	char *oauth2_client_id;
	char *oauth2_client_secret; /* never printed (Google's is not secret) */
	char *oauth2_tenant;    /* Microsoft; default "common" */
	char *oauth2_scope;
	int oauth2_flow;        /* CONF_OAUTH2_FLOW_* */
	char *oauth2_auth_endpoint;
	char *oauth2_token_endpoint;
	char *oauth2_device_endpoint;
	int oauth2_refresh_margin; /* seconds before expiry to refresh */
	char *oauth2_token_store; /* NULL: the default file; "keyring" */
	char *oauth2_trust_file;  /* CA file for the provider's HTTPS */

	/* logging and aliases */
	char *logfile;          /* "-" = stdout */
	char *logfile_time_format; /* NULL = "%b %d %H:%M:%S"; "none" */
	int logfile_format;     /* CONF_LOGFILE_TEXT (default) / _JSON */
	char *syslog;           /* NULL/"off", or a facility name "LOG_USER"... */
	char *aliases;

	/* internal: which settings were given explicitly (for inheritance
	 * and for command-line overrides); indexed by conf-internal keys. */
	unsigned char isset[96];
};

struct conf {
	struct account **v;     /* accounts in definition order */
	size_t n;
	size_t cap;
	char *user_file;        /* path of the user file read, or NULL */
	char *system_file;      /* path of the system file read, or NULL */
	/* The `defaults` section as it stood at the end of the last file
	 * loaded (so a user or -C file's win over the system file's), with
	 * `file` naming that file; the built-in defaults when that file has
	 * no such section; NULL when no file was loaded. */
	struct account *defaults;
	/* Set before loading to refuse anything but regular files, without
	 * ever blocking in open() (a FIFO): for files named by queued
	 * entries and users' files read in queue runs. */
	int regular_only;
	/* One-line messages about optional files skipped because they could
	 * not be read (e.g. root's ~/.msmtprc for nobody under cron), for
	 * main() to print as warnings. */
	char **warnings;
	size_t nwarnings;
};

void conf_init(struct conf *c);
void conf_free(struct conf *c);

/* A new account holding msmtp's built-in defaults. NULL on ENOMEM. */
struct account *conf_account_new(const char *name);
void conf_account_free(struct account *a);
/* Deep copy of every field. NULL on ENOMEM. */
struct account *conf_account_dup(const struct account *a);

/* Apply one msmtprc command ("host", "tls", ...) with its argument (may be
 * "" or NULL for commands without one) to an account.  `where` prefixes
 * error messages ("FILE:LINE" or "command line").  Legacy commands map to
 * their modern meaning.  Unknown command or bad value -> ERR_CONFIG. */
int conf_account_set(struct account *a, const char *cmd, const char *arg,
		     const char *where, struct err *e);

/* Parse a configuration file and append its accounts.  `is_user_file`
 * enables the secrets permission check (file holding a `password` must be
 * owned by the effective user, mode no more than 0600; root is not
 * exempt, unlike msmtp).
 * `must_exist` (a -C file): a missing or unreadable file is an error
 * (ERR_IOERR).  Otherwise a missing file is silently skipped and one we
 * may not open (EACCES/EPERM) is skipped with a line in c->warnings.  A
 * user-file account replaces a system-file one of the same name.
 * Returns 0 or -1. */
int conf_load_file(struct conf *c, const char *path, int is_user_file,
		   int must_exist, struct err *e);

/* Parse configuration text held in memory (used by tests and by
 * conf_load_file); `path` is used for messages. */
int conf_load_text(struct conf *c, const char *path, const char *text,
		   size_t len, int is_user_file, struct err *e);

/* The configuration of a run: the system file, then `user_file` (-C:
 * it must exist) or the default user file when there is one. */
int conf_load_all(struct conf *c, const char *user_file, struct err *e);

/* The home directory: $HOME, else the passwd entry; NULL if unknown (~
 * in the configuration and the OAuth2 token store agree on it). */
const char *conf_home_dir(void);

/* Default file locations. Return malloc'd paths (NULL on ENOMEM).
 * conf_user_path: ~/.msmtprc if it exists, else $XDG_CONFIG_HOME/msmtp/config
 * (XDG default ~/.config). conf_system_path: SYSCONFDIR "/msmtprc". */
char *conf_user_path(void);
char *conf_system_path(void);

struct account *conf_find(const struct conf *c, const char *name);
/* First account whose `from` matches addr: case-insensitive exact match or
 * fnmatch glob; "user+detail@dom" also matches "user@dom".  System-file
 * accounts are searched before user-file ones. NULL if none. */
struct account *conf_find_by_from(const struct conf *c, const char *addr);

/* Choose the account for a run: `name` (from -a) if given (missing ->
 * ERR_CONFIG "account X not found"), else the account matching
 * `envelope_from` (may be NULL), else "default", else the SMTPSERVER/EMAIL
 * environment fallback.  Returns a fresh copy the caller owns. */
struct account *conf_select(const struct conf *c, const char *name,
			    const char *envelope_from, struct err *e);

/* Fill derived values and check the account is usable for sending:
 * host or socket set (else "host not set"), port default (25; 465 with
 * tls on + tls_starttls off; 587 for tls on + starttls when the port is
 * unset is decided by the TLS issue - for now 25), LMTP needs a port,
 * key/cert pairs, %H/%C/%M/%U expansion in domain and from; OAuth2: the
 * provider preset's endpoints, scope and flow where not set, `auth on`
 * when auth is not set, and the checks (client id, https endpoints, no
 * password or passwordeval, an OAuth mechanism).  Returns 0/-1
 * with ERR_CONFIG. */
int conf_account_finish(struct account *a, struct err *e);

/* 1 if the account was defined in a user file (not the system file, the
 * environment fallback or the command line). */
int conf_account_from_user_file(const struct account *a);

/* 1 if `from` contains glob characters (* ? [) and so is a pattern. */
int conf_from_is_pattern(const char *from);

#endif
