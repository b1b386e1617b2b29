/* SPDX-License-Identifier: GPL-3.0-or-later */
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
 *
 * The module also runs commands under a deadline (secret_cmd_run) for
 * passwordeval and for the configuration's `eval`: one implementation of
 * "own process group, poll, kill the group on expiry".
 */
#ifndef MSMTP_SECRET_H
#define MSMTP_SECRET_H

#include <stddef.h>
#include "buf.h"
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

/* The password for host and user in the desktop keyring (libsecret):
 * 1 with *out set, 0 when there is none or no keyring (or its module
 * cannot be loaded: a warning says why), -1 out of memory.  Only in a
 * build with libsecret (keyring.c, in msmtp-keyring.so). */
int keyring_lookup(const char *host, const char *user, struct secret **out);

/* Find the secret.  *out is allocated; release with secret_free. */
int secret_load(const struct secret_req *r, struct secret **out, struct err *e);
void secret_free(struct secret *s);
/* Copy bytes into a fresh secret (e.g. built SASL payloads). */
struct secret *secret_new(const char *p, size_t len);

/* Look up login/password for `host` in a netrc file; 1 found (the
 * password copied into a new secret), 0 not found, -1 error.  When user
 * is NULL the first entry for the host is used and *login_out receives
 * its login (malloc'd, may be NULL). */
/* The login of the first netrc entry for `host` (~/.netrc under `home`,
 * then `system_netrc`, NULL: SYSCONFDIR/netrc): 1 found (*login
 * malloc'd), 0 none, -1 error.  For accounts that set no `user`. */
int secret_netrc_login(const char *host, const char *home,
		       const char *system_netrc, char **login, struct err *e);

int secret_netrc(const char *path, const char *host, const char *user,
		 struct secret **out, char **login_out, struct err *e);

/*
 * A command run under a deadline: `sh -c CMD` with stdin from /dev/null,
 * default signal handling, in a process group of its own.  When the
 * deadline passes before the command has finished, the whole group is
 * killed (SIGKILL) and the command is reaped either way.  Shared by
 * passwordeval and by the configuration's `eval`: both run a user's
 * command whose output is often a secret (the buffers are wiped on free)
 * and neither may hang a cron job.
 */
#define SECRET_STDERR_MAX 4096

struct secret_cmd {
	/* set by the caller (after secret_cmd_init) */
	int timeout;            /* seconds; 0 = no limit */
	int first_line;         /* keep stdout only up to its first newline
				 * (the newline is not kept), then close
				 * the pipe without waiting for the rest */
	int keep_stderr;        /* collect stderr in err; else inherited */
	/* results */
	struct buf out;         /* stdout: at most the out_max first bytes */
	struct buf err;         /* stderr: at most SECRET_STDERR_MAX bytes */
	int out_errno;          /* 0; E2BIG when stdout (with first_line: its
				 * first line) went beyond out_max; ENOMEM */
	int got_output;         /* stdout produced at least one byte */
	int status;             /* wait status (0 if unknown) */
	int timed_out;          /* the deadline passed: the group was killed */
};

/* timeout: seconds (<= 0: no limit); out_max: stdout bytes kept. */
void secret_cmd_init(struct secret_cmd *c, int timeout, size_t out_max);
/* Run cmd.  -1 (ERR_OSERR) only when it cannot be started; running too
 * long, failing or printing nothing are results in *c, for the caller to
 * judge. */
int secret_cmd_run(struct secret_cmd *c, const char *cmd, struct err *e);
void secret_cmd_free(struct secret_cmd *c);

#endif
