/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * serve - `sendmail -bs`: one SMTP session on standard input and output
 * (what Symfony Mailer, Laravel and Nextcloud use), driving the smtpd
 * engine.  Each received message is stored in an unlinked temporary file
 * (constant memory) and goes through the same pipeline as a message on
 * standard input (account, envelope, rewrite, deliver or queue, log).  The
 * reply to its final dot states the real outcome: 250 only when the
 * smarthost accepted it (its reply text passed on, so "queued as" carries
 * the smarthost's id) or it is durably queued ("queued as" our queue id);
 * 4xx for a temporary failure, 5xx for a permanent one.
 *
 * Standard output carries replies only; the caller keeps everything else
 * away from stdout and stderr (log_divert).  A client silent for
 * `idle` seconds, or that long over one line (command or message), gets
 * 421 and the session ends.
 */
#ifndef MSMTP_SERVE_H
#define MSMTP_SERVE_H

#include "err.h"
#include "pipeline.h"

#define SERVE_IDLE_TIMEOUT 300

struct serve_ctx {
	const struct pipeline_req *tmpl;        /* every message's settings */
	const char *refuse;     /* NULL, or why no message can be taken (a
				   configuration error): 554 greeting, end */
	int refuse_later;       /* ... not for good (out of memory): 421 */
	int idle;               /* seconds of silence before 421 */
	int in_fd, out_fd;      /* 0 and 1 */
};

/* Run the session to its end.  0 after QUIT or the client's end of input
 * between transactions; -1 with err otherwise (the exit status: 78 for a
 * refused session, 75 when the client vanished mid-transaction or stayed
 * silent). */
int serve_session(const struct serve_ctx *cx, struct err *e);

#endif
