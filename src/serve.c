/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "msg.h"
#include "outcome.h"
#include "smtpd.h"

struct serve {
	const struct serve_ctx *cx;
	struct smtpd_session *smtpd;
	int body_fd;                    /* the message being received */
	int in_eof;
	struct timespec line_since;     /* when the unfinished line began */
};

/* Write every reply the engine has; -1 when the client is gone. */
static int serve_flush(struct serve *sv)
{
	const struct buf *out = smtpd_out(sv->smtpd);
	int r = 0, saved;

	if (out->len > 0 && msg_write_all(sv->cx->out_fd, out->data,
					  out->len) < 0)
		r = -1;
	saved = errno;
	smtpd_out_clear(sv->smtpd);
	errno = saved;
	return r;
}

/* A reply could not be written: the client closed its end.  Judged like
 * its end of input: nothing is lost outside a transaction (a client that
 * hangs up at the greeting is no failure, whether or not the greeting got
 * out first), a transaction left open is temporary; any other write
 * error is an I/O error. */
static int serve_client_gone(struct serve *sv, struct err *e)
{
	if (errno != EPIPE && errno != ECONNRESET)
		return err_set(e, ERR_IOERR, "cannot answer the SMTP client: "
			       "%s", strerror(errno));
	if (smtpd_in_transaction(sv->smtpd))
		return err_set(e, ERR_TEMPFAIL, "the SMTP client left in the "
			       "middle of a message");
	return 0;
}

/* The last word of a session that ran out of memory, written without
 * needing any. */
static void serve_say_oom(const struct serve_ctx *cx)
{
	static const char line[] = "421 4.3.0 Error: out of memory\r\n";

	msg_write_all(cx->out_fd, line, sizeof line - 1);
}

/* An unlinked file in TMPDIR for the message body (never RAM). */
static int serve_tmp(struct err *e)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd;

	snprintf(path, sizeof path, "%s/msmtp-bs-XXXXXX",
		 dir && *dir == '/' ? dir : "/tmp");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return err_set(e, ERR_IOERR, "cannot create a temporary file: %s",
			       strerror(errno));
	unlink(path);
	return fd;
}

static void serve_drop_body(struct serve *sv)
{
	if (sv->body_fd >= 0)
		close(sv->body_fd);
	sv->body_fd = -1;
}

static int serve_body(struct serve *sv, struct err *e)
{
	const char *p;
	size_t n;

	smtpd_body(sv->smtpd, &p, &n);
	if (sv->body_fd < 0 && (sv->body_fd = serve_tmp(e)) < 0)
		return -1;
	if (msg_write_all(sv->body_fd, p, n) < 0)
		return err_set(e, ERR_IOERR, "cannot store the message: %s",
			       strerror(errno));
	return 0;
}

/* The text of a server reply without its code ("250 2.0.0 Ok: queued
 * as X" -> "2.0.0 Ok: queued as X"). */
static const char *serve_after_code(const char *reply)
{
	if (strlen(reply) > 4 && reply[3] == ' ')
		return reply + 4;
	return reply;
}

/* The reply to the final dot from what became of the message. */
static void serve_answer(struct serve *sv, const struct pipeline_result *res,
			 int rc, const struct err *e)
{
	const struct outcome *o = &res->outcome;
	char text[ERR_MSG_MAX + 64];
	int temp;

	if (rc == 0 && res->queued_id[0]) {
		snprintf(text, sizeof text, "Ok: queued as %s", res->queued_id);
		smtpd_message_result(sv->smtpd, 250, "2.0.0", text);
		return;
	}
	if (rc == 0) {
		smtpd_message_result(sv->smtpd, 250, "", o->smtp_code == 250
				     ? serve_after_code(o->smtp_text)
				     : "2.0.0 Ok: delivered");
		return;
	}
	temp = e->code == ERR_TEMPFAIL || (res->attempted
					   && outcome_retry_later(o));
	/* the smarthost's own refusal of this message or its recipients
	 * is passed on as it came */
	if (res->attempted && o->scope != OUTCOME_SESSION
	    && o->smtp_code / 100 == (temp ? 4 : 5)) {
		smtpd_message_result(sv->smtpd, o->smtp_code, "",
				     serve_after_code(o->smtp_text));
		return;
	}
	snprintf(text, sizeof text, "%s", e->msg[0] ? e->msg
		 : "the message was not delivered");
	smtpd_message_result(sv->smtpd, temp ? 451 : 554, temp ? "4.3.0"
			     : "5.3.0", text);
}

/* The complete message through the pipeline. */
static void serve_message(struct serve *sv)
{
	struct pipeline_req rq = *sv->cx->tmpl;
	struct pipeline_result res;
	struct msg_read_opts ro;
	struct msg *m = NULL;
	struct err e;
	size_t n;
	int rc = -1;

	err_init(&e);
	pipeline_result_init(&res);
	memset(&ro, 0, sizeof ro);
	rq.from = smtpd_sender(sv->smtpd);
	rq.recipients = smtpd_rcpts(sv->smtpd, &n);
	rq.nrecipients = n;
	rq.read_recipients = 0;
	rq.read_envelope_from = 0;
	if ((sv->body_fd >= 0 || (sv->body_fd = serve_tmp(&e)) >= 0)
	    && lseek(sv->body_fd, 0, SEEK_SET) == 0
	    && msg_read(sv->body_fd, &ro, &m, &e) == 0)
		rc = pipeline_run(&rq, m, &res, &e);
	if (rc < 0)
		log_error("%s", e.msg);
	if (rc < 0 && e.hint[0] != '\0')
		log_error("hint: %s", e.hint);
	serve_answer(sv, &res, rc, &e);
	msg_free(m);
	serve_drop_body(sv);
	pipeline_result_free(&res);
}

static long long serve_ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000LL
		+ (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* How long the next wait may be: the idle limit, or what is left of it
 * for a line already begun - a whole line, command or message, must come
 * within the limit, so a client sending a byte a second cannot hold the
 * session for ever. */
static int serve_wait_ms(const struct serve *sv)
{
	long long left = sv->cx->idle * 1000LL;

	if (smtpd_mid_line(sv->smtpd))
		left -= serve_ms_since(&sv->line_since);
	return left > 0 ? (int)left : 0;
}

/* Wait for the client within the idle limit and feed what it wrote.
 * 0 fed, 1 end of input, -1 error, 2 timed out. */
static int serve_read(struct serve *sv, struct err *e)
{
	struct pollfd p = { sv->cx->in_fd, POLLIN, 0 };
	char chunk[SMTPD_BODY_CHUNK];
	ssize_t n;
	int r;

	do
		r = poll(&p, 1, serve_wait_ms(sv));
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return 2;
	do
		n = read(sv->cx->in_fd, chunk, sizeof chunk);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 1;
	if (n < 0)
		return err_set(e, ERR_IOERR, "cannot read the SMTP session: %s",
			       strerror(errno));
	/* the unfinished line at the end of these bytes (if any) began
	 * here, unless one was already under way before them */
	if (!smtpd_mid_line(sv->smtpd) || memchr(chunk, '\n', (size_t)n))
		clock_gettime(CLOCK_MONOTONIC, &sv->line_since);
	return smtpd_feed(sv->smtpd, chunk, (size_t)n, e);
}

/* The event loop; returns how the session ended (see serve.h). */
static int serve_loop(struct serve *sv, struct err *e)
{
	for (;;) {
		int r;

		switch (smtpd_step(sv->smtpd)) {
		case SMTPD_EV_BODY:
			if (serve_body(sv, e) < 0) {
				smtpd_refuse(sv->smtpd, "cannot store the "
					     "message");
				serve_flush(sv);
				return -1;
			}
			continue;
		case SMTPD_EV_MESSAGE:
			serve_message(sv);
			continue;
		case SMTPD_EV_CLOSE:
			serve_flush(sv);
			if (smtpd_out_of_memory(sv->smtpd)) {
				serve_say_oom(sv->cx);
				return err_set(e, ERR_OSERR, "out of memory");
			}
			return smtpd_quit_seen(sv->smtpd) ? 0
				: err_set(e, ERR_TEMPFAIL, "the SMTP session "
					  "ended without QUIT");
		case SMTPD_EV_NONE:
			break;
		}
		if (serve_flush(sv) < 0)
			return serve_client_gone(sv, e);
		r = serve_read(sv, e);
		if (r == 2) {
			int mid = smtpd_mid_line(sv->smtpd);

			smtpd_timeout(sv->smtpd);
			serve_flush(sv);
			return err_set(e, ERR_TEMPFAIL, mid ? "the SMTP client did "
				       "not finish a line within %d seconds"
				       : "the SMTP client was silent for %d "
				       "seconds", sv->cx->idle);
		}
		if (r == 1)     /* end of input without QUIT */
			return smtpd_in_transaction(sv->smtpd)
				? err_set(e, ERR_TEMPFAIL, "the SMTP client "
					  "left in the middle of a message") : 0;
		if (r < 0 && e->code == ERR_OSERR)
			serve_say_oom(sv->cx);
		if (r < 0)
			return -1;
	}
}

int serve_session(const struct serve_ctx *cx, struct err *e)
{
	struct serve sv;
	char host[256];
	int rc;

	memset(&sv, 0, sizeof sv);
	sv.cx = cx;
	sv.body_fd = -1;
	if (gethostname(host, sizeof host) < 0)
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	sv.smtpd = smtpd_new(host, e);
	if (sv.smtpd == NULL) {
		serve_say_oom(cx);
		return -1;
	}
	if (cx->refuse) {
		if (cx->refuse_later)
			smtpd_unavailable(sv.smtpd, cx->refuse);
		else
			smtpd_refuse(sv.smtpd, cx->refuse);
		serve_flush(&sv);
		smtpd_free(sv.smtpd);
		return err_set(e, ERR_CONFIG, "%s", cx->refuse);
	}
	smtpd_greet(sv.smtpd);
	rc = serve_loop(&sv, e);
	serve_drop_body(&sv);
	smtpd_free(sv.smtpd);
	return rc;
}
