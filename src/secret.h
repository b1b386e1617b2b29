/*
 * secret - where a password (or OAuth token) comes from, and how it is
 * held.  A secret is kept in one locked, wiped-on-free buffer; nothing in
 * this module prints it.  Loading a secret also makes the process
 * non-dumpable (no core file, no ptrace by other users).
 *
 * Sources, in order (msmtp's order): `password`; `passwordeval` (first
 * line of its standard output; a non-zero exit status, no output or a run
 * longer than the account's timeout is an error that shows the command's
 * stderr); the keyring through libsecret when built with it (attributes
 * host, service "smtp", user); ~/.netrc, then SYSCONFDIR/netrc (machine =
 * host, login = user); a prompt on /dev/tty when a terminal is there.
 * Errors are ERR_CONFIG and name the sources tried.
 */
#ifndef MSMTP_SECRET_H
#define MSMTP_SECRET_H

#include <stddef.h>
#include "err.h"

#define SECRET_MAX 65536        /* longest password or token */

struct secret {
	char *p;                /* NUL-terminated; never printed */
	size_t len;
};

struct secret_req {
	const char *password;           /* account `password`, or NULL */
	const char *passwordeval;       /* command, or NULL */
	const char *host;               /* for keyring, netrc and the prompt */
	const char *user;               /* may be NULL */
	int timeout;                    /* seconds for passwordeval; 0 = none */
	const char *netrc_home;         /* $HOME (NULL: from the environment) */
	const char *netrc_system;       /* SYSCONFDIR/netrc (NULL: default) */
	int no_prompt;                  /* never open /dev/tty (tests, cron) */
};

/* Find the secret.  *out is allocated; release with secret_free. */
int secret_load(const struct secret_req *r, struct secret **out, struct err *e);
void secret_free(struct secret *s);
/* Copy bytes into a fresh secret (e.g. built SASL payloads). */
struct secret *secret_new(const char *p, size_t len);

/* Look up login/password for `host` in a netrc file; 1 found (the
 * password copied into a new secret), 0 not found, -1 error.  When user
 * is NULL the first entry for the host is used and *login_out receives
 * its login (malloc'd, may be NULL). */
int secret_netrc(const char *path, const char *host, const char *user,
		 struct secret **out, char **login_out, struct err *e);

/* Make the process non-dumpable and disable core files. */
void secret_protect_process(void);

#endif
