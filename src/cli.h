/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * cli - the command line: msmtp long options and the sendmail front door.
 *
 * Pure: turns argv into a `struct opts` and never reads stdin, opens files
 * or exits.  Parsing stops at the first recipient (no GNU permutation, so a
 * word after a real recipient can never become an option) or at "--".
 * Options that mirror an msmtprc command are recorded as (command, value)
 * pairs in argv order and applied later with conf_account_set(), so the
 * config file and the command line share one validator.  Each pair is
 * also tried on a scratch account while parsing, so a bad value
 * ("--port=99999") fails here, before stdin is read (a "~/" path may make
 * that look up the home directory).  Errors are ERR_USAGE (64) with a
 * one-line message; words from argv in it go through buf_show().  An
 * unknown long option close to a known one, and an option after the
 * first recipient, carry a hint (err.h).
 */
#ifndef MSMTP_CLI_H
#define MSMTP_CLI_H

#include <stddef.h>
#include "err.h"

enum cli_mode {
	CLI_MODE_SEND = 0,      /* default, also -bm */
	CLI_MODE_VERSION,       /* --version */
	CLI_MODE_HELP,          /* --help */
	CLI_MODE_PRETEND,       /* -P, --pretend */
	CLI_MODE_SERVERINFO,    /* -S, --serverinfo */
	CLI_MODE_QUEUE_FLUSH,   /* -q, --flush: try every queued message now */
	CLI_MODE_QUEUE_RUN,     /* --queue-run: only the entries that are due */
	CLI_MODE_QUEUE_LIST,    /* -bp, invoked as mailq */
	CLI_MODE_QUEUE_REMOVE,  /* --queue-remove=ID */
	CLI_MODE_QUEUE_RETRY,   /* --queue-retry=ID: due now */
	CLI_MODE_NEWALIASES,    /* -bi, invoked as newaliases: nothing to do,
				 * exit 0 before reading the configuration */
	CLI_MODE_OAUTH2_LOGIN,  /* --oauth2-login: sign in, store the tokens */
	CLI_MODE_OAUTH2_STATUS, /* --oauth2-status: is there a login */
	CLI_MODE_SMTP_SESSION,  /* -bs: SMTP on standard input and output */
	CLI_MODE_VERIFY,        /* -bv: check the recipients, send nothing */
	CLI_MODE_RMQS,          /* --rmqs=ARG: ETRN (RFC 1985) */
	CLI_MODE_CONFIGURE      /* --configure=ADDRESS: print an account */
};

struct cli_setting {
	const char *cmd;        /* msmtprc command name, static string */
	char *arg;              /* points into argv or is malloc'd (see owned) */
	int owned;
};

struct opts {
	enum cli_mode mode;
	const char *prog;       /* basename of argv[0] */
	int as_sendmail;        /* invoked as "sendmail" (basename of argv[0]) */
	int debug;              /* -d, --debug, -v: SMTP dialogue on stdout */
	int print_version_too;  /* -d0.1 */

	const char *conf_file;  /* -C, --file */
	const char *account;    /* -a, --account */
	int host_given;         /* --host: use the command line alone */

	struct cli_setting *settings; /* account overrides, argv order */
	size_t nsettings;

	const char *from;       /* -f, -r, --from (NULL if not given) */
	const char *full_name;  /* -F (NULL if not given; "" allowed) */
	int read_recipients;    /* -t, --read-recipients */
	int read_envelope_from; /* --read-envelope-from */
	int ignore_dots;        /* -i, -oi: a lone "." never ends input */

	int delivery_mode;      /* 0 default, 'i' -odi, 'q' -odq, 'b' -odb */
	const char *queue_id;   /* --queue-remove/--queue-retry, -qI */
	const char *etrn;       /* --rmqs argument */
	const char *configure;  /* --configure argument (an address) */
	const char *queue_rcpt; /* -qR: only entries with a matching recipient */
	const char *queue_sender; /* -qS: only entries from a matching sender */
	int json;               /* --json: the queue listing as JSON lines
				 * (only with mailq / -bp) */

	char **recipients;      /* words after the options (argv pointers) */
	size_t nrecipients;
};

void cli_opts_init(struct opts *o);
void cli_opts_free(struct opts *o);
int cli_parse(int argc, char **argv, struct opts *o, struct err *e);

/* Texts for --help and --version (version text gets library versions from
 * the caller).  cli_usage_hint is the one line printed after a usage
 * error: "Try 'msmtp --help' for more information." */
const char *cli_help_text(void);
const char *cli_usage_hint(void);

#endif
