/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * pipeline - one message from input to outcome: the account, the
 * envelope sender, the recipients (argv, -t, aliases), the header rewrite,
 * delivery or the queue, and the log record.  Callable once per message:
 * main runs it for the message on standard input; a -bs session will run
 * it for each message of the session.  It prints nothing: a line for the
 * user (a queued message's note) comes back in the result, errors in err.
 */
#ifndef MSMTP_PIPELINE_H
#define MSMTP_PIPELINE_H

#include <stddef.h>
#include <stdio.h>
#include "addr.h"
#include "cli.h"
#include "conf.h"
#include "err.h"
#include "msg.h"
#include "outcome.h"
#include "submit.h"

struct pipeline_req {
	const struct conf *conf;        /* loaded configuration */
	const char *conf_file;          /* -C file (absolute), recorded with
					   queued messages; NULL: default */
	const char *account;            /* -a, or NULL */
	int host_given;                 /* --host: the command line alone */
	const struct cli_setting *settings; /* account overrides, in order */
	size_t nsettings;
	const char *from;               /* -f, or NULL */
	int read_envelope_from;         /* --read-envelope-from */
	int read_recipients;            /* -t */
	const char *full_name;          /* -F, or NULL */
	char *const *recipients;        /* argv recipients */
	size_t nrecipients;
	int delivery_mode;              /* 0, 'i', 'q' (-odq), 'b' (-odb) */
};

struct pipeline_result {
	struct account *acct;           /* the account chosen (owned) */
	char *from;                     /* envelope sender */
	struct addr_list rcpts;         /* envelope recipients */
	struct outcome outcome;         /* of the last delivery attempt */
	struct submit_info info;
	int attempted;                  /* a delivery was attempted */
	char queued_id[64];             /* set when the message is queued */
	char note[ERR_MSG_MAX + 200];   /* one line for stderr, or "" */
};

void pipeline_result_init(struct pipeline_result *r);
void pipeline_result_free(struct pipeline_result *r);

/* -P and -S: the account (command-line settings applied, defaults
 * derived) and, with -f, the sender; no message. */
int pipeline_account(const struct pipeline_req *rq,
		     struct pipeline_result *res, struct err *e);

/* -bv: what would happen to each recipient, without a message or a
 * connection: the account, the envelope sender, then every argv word
 * parsed and alias-expanded, each address checked.  One line per
 * address on `out`; 0 when all are deliverable, else -1 with ERR_DATAERR
 * (an account or sender problem: its own error; out of memory: ERR_OSERR,
 * never an address called undeliverable for it). */
int pipeline_verify(const struct pipeline_req *rq,
		    struct pipeline_result *res, FILE *out, struct err *e);

/* The whole way of one message.  0: delivered, or durably queued;
 * -1 with err (its code is the exit status). */
int pipeline_run(const struct pipeline_req *rq, struct msg *m,
		 struct pipeline_result *res, struct err *e);

#endif
