/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "smtpd.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"

enum smtpd_phase { PH_COMMAND, PH_DATA, PH_AWAIT_RESULT, PH_CLOSED };

/* Where the data phase is within a line (for unstuffing and the end). */
enum smtpd_ds { DS_LINE_START, DS_MID, DS_CR, DS_DOT, DS_DOT_CR };

struct smtpd_session {
	char host[256];
	struct buf in;                  /* client bytes not used yet */
	struct buf out;                 /* replies not written yet */
	struct buf body;                /* unstuffed message bytes to hand out */
	enum smtpd_phase phase;
	enum smtpd_ds ds;
	int body_end;                   /* the final dot was seen */
	int skipping;                   /* discarding an overlong command line */
	int errors;                     /* refusals in a row */
	int quit;
	int oom;                        /* a reply or message bytes were lost */
	int have_mail;
	char *from;
	char **rcpts;
	size_t nrcpts, cap;
};

/* ---- replies ------------------------------------------------------------ */

/* No memory for a reply or for message bytes: a client would wait
 * forever for the reply, or a message would go out incomplete.  The
 * session ends at once (the driver says 421); the message in progress is
 * never handed out. */
static void smtpd_lost(struct smtpd_session *s)
{
	s->oom = 1;
	s->phase = PH_CLOSED;
}

static void smtpd_reply(struct smtpd_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void smtpd_reply(struct smtpd_session *s, const char *fmt, ...)
{
	va_list ap;
	char line[SMTPD_LINE_MAX];
	size_t i, off = s->out.len;

	if (s->oom)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	/* one line, whatever text came from a server or a user */
	for (i = 0; line[i]; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = ' ';
	if (buf_append_str(&s->out, line) < 0
	    || buf_append(&s->out, "\r\n", 2) < 0) {
		buf_truncate(&s->out, off);
		smtpd_lost(s);
	}
}

/* A refusal that counts towards the error limit. */
static void smtpd_refusal(struct smtpd_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void smtpd_refusal(struct smtpd_session *s, const char *fmt, ...)
{
	va_list ap;
	char line[SMTPD_LINE_MAX];

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	smtpd_reply(s, "%s", line);
	if (++s->errors >= SMTPD_MAX_ERRORS) {
		smtpd_reply(s, "421 4.7.0 %s Error: too many errors", s->host);
		s->phase = PH_CLOSED;
	}
}

/* ---- the transaction ---------------------------------------------------- */

static void smtpd_reset(struct smtpd_session *s)
{
	size_t i;

	free(s->from);
	s->from = NULL;
	for (i = 0; i < s->nrcpts; i++)
		free(s->rcpts[i]);
	s->nrcpts = 0;
	s->have_mail = 0;
	s->body_end = 0;
	buf_reset(&s->body);
}

struct smtpd_session *smtpd_new(const char *hostname, struct err *e)
{
	struct smtpd_session *s = calloc(1, sizeof *s);

	if (s == NULL) {
		err_set(e, ERR_OSERR, "out of memory");
		return NULL;
	}
	snprintf(s->host, sizeof s->host, "%s", hostname && *hostname
		 ? hostname : "localhost");
	buf_init(&s->in, SMTPD_LINE_MAX + 4 * SMTPD_BODY_CHUNK);
	buf_init(&s->out, 64 * SMTPD_LINE_MAX);
	buf_init(&s->body, SMTPD_BODY_CHUNK);
	return s;
}

void smtpd_free(struct smtpd_session *s)
{
	if (s == NULL)
		return;
	smtpd_reset(s);
	free(s->rcpts);
	buf_free(&s->in);
	buf_free(&s->out);
	buf_free(&s->body);
	free(s);
}

void smtpd_greet(struct smtpd_session *s)
{
	smtpd_reply(s, "220 %s ESMTP msmtp", s->host);
}

void smtpd_refuse(struct smtpd_session *s, const char *why)
{
	smtpd_reply(s, "554 5.3.5 %s %s", s->host, why);
	s->phase = PH_CLOSED;
}

void smtpd_unavailable(struct smtpd_session *s, const char *why)
{
	smtpd_reply(s, "421 4.3.0 %s %s", s->host, why);
	s->phase = PH_CLOSED;
}

void smtpd_timeout(struct smtpd_session *s)
{
	smtpd_reply(s, "421 4.4.2 %s Error: timeout exceeded", s->host);
	s->phase = PH_CLOSED;
}

/* ---- addresses ---------------------------------------------------------- */

/* "FROM:<addr> params" (the keyword checked by the caller): the address
 * (without a source route, RFC 5321 4.1.2) into *addr, the parameters'
 * start into *params.  Lenient about spaces and missing brackets, strict
 * about the rest.  -1 on a syntax error, -2 out of memory. */
static int smtpd_path(const char *arg, char **addr, const char **params)
{
	const char *p = arg, *start, *end;
	int quoted = 0;

	while (*p == ' ')
		p++;
	if (*p != '<') {
		start = p;
		end = p + strcspn(p, " ");
		*params = end;
	} else {
		start = ++p;
		for (; *p && (quoted || *p != '>'); p++) {
			if (*p == '\\' && quoted && p[1])
				p++;
			else if (*p == '"')
				quoted = !quoted;
		}
		if (*p != '>')
			return -1;
		end = p;
		*params = p + 1;
		if (*start == '@') {    /* <@a,@b:user@c> */
			const char *colon = memchr(start, ':', (size_t)(end - start));

			if (colon == NULL)
				return -1;
			start = colon + 1;
		}
	}
	*addr = strndup(start, (size_t)(end - start));
	return *addr ? 0 : -2;
}

/* Each "KEY[=VALUE]" among the parameters must be one we can honour. */
static int smtpd_params_ok(const char *p, int mail)
{
	while (*p) {
		const char *w;
		size_t n;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		w = p;
		n = strcspn(p, " ");
		p += n;
		if (!mail)
			return 0;       /* no RCPT parameter is offered */
		if ((n == 13 && strncasecmp(w, "BODY=8BITMIME", n) == 0)
		    || (n == 9 && strncasecmp(w, "BODY=7BIT", n) == 0)
		    || (n == 8 && strncasecmp(w, "SMTPUTF8", n) == 0))
			continue;
		if (n > 5 && strncasecmp(w, "SIZE=", 5) == 0
		    && strspn(w + 5, "0123456789") == n - 5 && n - 5 <= 18)
			continue;
		return 0;
	}
	return 1;
}

/* MAIL FROM / RCPT TO: the path and its parameters.  *addr malloc'd. */
static int smtpd_envelope(struct smtpd_session *s, const char *arg,
			  const char *kw, int mail, char **addr)
{
	const char *params;
	struct err e;
	size_t kl = strlen(kw);
	int r = -1;

	*addr = NULL;
	if (strncasecmp(arg, kw, kl) != 0
	    || (r = smtpd_path(arg + kl, addr, &params)) < 0) {
		free(*addr);
		*addr = NULL;
		if (r == -2)    /* not the client's fault: try again later */
			smtpd_reply(s, "451 4.3.0 Error: out of memory");
		else
			smtpd_refusal(s, "501 5.5.4 Syntax: %s <address>", mail
				      ? "MAIL FROM:" : "RCPT TO:");
		return -1;
	}
	if (!smtpd_params_ok(params, mail)) {
		smtpd_refusal(s, "555 5.5.4 Unsupported parameter");
		goto bad;
	}
	err_init(&e);
	if ((!mail && **addr == '\0') || addr_check_envelope(*addr, &e) < 0) {
		if (e.code == ERR_OSERR)
			smtpd_reply(s, "451 4.3.0 Error: out of memory");
		else
			smtpd_refusal(s, "553 %s Invalid address: %s", mail
				      ? "5.1.7" : "5.1.3", e.msg[0] ? e.msg
				      : "empty");
		goto bad;
	}
	return 0;
bad:
	free(*addr);
	*addr = NULL;
	return -1;
}

/* ---- commands ----------------------------------------------------------- */

static void smtpd_cmd_helo(struct smtpd_session *s, const char *arg, int ehlo)
{
	if (*arg == '\0') {
		smtpd_refusal(s, "501 5.5.4 Syntax: %s hostname", ehlo ? "EHLO"
			      : "HELO");
		return;
	}
	smtpd_reset(s);
	if (!ehlo) {
		smtpd_reply(s, "250 %s", s->host);
		return;
	}
	smtpd_reply(s, "250-%s", s->host);
	smtpd_reply(s, "250-PIPELINING");
	smtpd_reply(s, "250-8BITMIME");
	smtpd_reply(s, "250-SMTPUTF8");
	smtpd_reply(s, "250 ENHANCEDSTATUSCODES");
}

static void smtpd_cmd_mail(struct smtpd_session *s, const char *arg)
{
	char *addr;

	if (s->have_mail) {
		smtpd_refusal(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (smtpd_envelope(s, arg, "FROM:", 1, &addr) < 0)
		return;
	s->from = addr;
	s->have_mail = 1;
	smtpd_reply(s, "250 2.1.0 Ok");
}

static void smtpd_cmd_rcpt(struct smtpd_session *s, const char *arg)
{
	char *addr;

	if (!s->have_mail) {
		smtpd_refusal(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->nrcpts >= SMTPD_MAX_RCPTS) {
		smtpd_reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	if (smtpd_envelope(s, arg, "TO:", 0, &addr) < 0)
		return;
	if (s->nrcpts == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 16;
		char **nv = realloc(s->rcpts, nc * sizeof *nv);

		if (nv == NULL) {
			free(addr);
			smtpd_reply(s, "452 4.3.0 Error: out of memory");
			return;
		}
		s->rcpts = nv;
		s->cap = nc;
	}
	s->rcpts[s->nrcpts++] = addr;
	smtpd_reply(s, "250 2.1.5 Ok");
}

static void smtpd_cmd_data(struct smtpd_session *s, const char *arg)
{
	if (*arg != '\0') {
		smtpd_refusal(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if (!s->have_mail) {
		smtpd_refusal(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->nrcpts == 0) {
		smtpd_refusal(s, "554 5.5.1 Error: no valid recipients");
		return;
	}
	smtpd_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	if (s->oom)
		return;
	s->phase = PH_DATA;
	s->ds = DS_LINE_START;
}

static int smtpd_verb(const char *line, size_t vlen, const char *verb)
{
	return vlen == strlen(verb) && strncasecmp(line, verb, vlen) == 0;
}

/* One command line (without its line end). */
static void smtpd_command(struct smtpd_session *s, const char *line)
{
	size_t vlen = strcspn(line, " ");
	const char *arg = line + vlen;
	int errors = s->errors;

	while (*arg == ' ')
		arg++;
	if (smtpd_verb(line, vlen, "EHLO"))
		smtpd_cmd_helo(s, arg, 1);
	else if (smtpd_verb(line, vlen, "HELO"))
		smtpd_cmd_helo(s, arg, 0);
	else if (smtpd_verb(line, vlen, "MAIL"))
		smtpd_cmd_mail(s, arg);
	else if (smtpd_verb(line, vlen, "RCPT"))
		smtpd_cmd_rcpt(s, arg);
	else if (smtpd_verb(line, vlen, "DATA"))
		smtpd_cmd_data(s, arg);
	else if (smtpd_verb(line, vlen, "RSET")) {
		smtpd_reset(s);
		smtpd_reply(s, "250 2.0.0 Ok");
	} else if (smtpd_verb(line, vlen, "NOOP"))
		smtpd_reply(s, "250 2.0.0 Ok");
	else if (smtpd_verb(line, vlen, "HELP"))
		smtpd_reply(s, "214 2.0.0 msmtp -bs: see msmtp(1)");
	else if (smtpd_verb(line, vlen, "VRFY"))
		smtpd_reply(s, "252 2.5.0 Cannot VRFY user, but will accept "
			    "message and attempt delivery");
	else if (smtpd_verb(line, vlen, "QUIT")) {
		smtpd_reply(s, "221 2.0.0 %s closing connection", s->host);
		s->quit = 1;
		s->phase = PH_CLOSED;
	} else if (smtpd_verb(line, vlen, "EXPN")
		   || smtpd_verb(line, vlen, "STARTTLS")
		   || smtpd_verb(line, vlen, "AUTH")
		   || smtpd_verb(line, vlen, "BDAT")
		   || smtpd_verb(line, vlen, "ETRN"))
		smtpd_refusal(s, "502 5.5.1 Error: command not implemented");
	else
		smtpd_refusal(s, "500 5.5.2 Error: command not recognized");
	if (s->errors == errors)
		s->errors = 0;  /* a good command ends a run of errors */
}

/* Command phase: each complete line; an overlong one is refused and
 * discarded up to its end.  Returns when the input is used up or the
 * phase changed. */
static void smtpd_commands(struct smtpd_session *s)
{
	while (s->phase == PH_COMMAND && s->in.len > 0) {
		char *nl = memchr(s->in.data, '\n', s->in.len);
		size_t used = nl ? (size_t)(nl - s->in.data) + 1 : s->in.len;
		size_t len = nl ? used - 1 : used;

		if (nl == NULL && s->in.len <= SMTPD_LINE_MAX)
			return;         /* wait for the rest of the line */
		if (len > 0 && s->in.data[len - 1] == '\r')
			len--;
		if (s->skipping || len > SMTPD_LINE_MAX
		    || memchr(s->in.data, '\0', len) != NULL) {
			if (!s->skipping)
				smtpd_refusal(s, "500 5.5.2 Error: line too long "
					      "or not text");
			s->skipping = nl == NULL;
		} else {
			s->in.data[len] = '\0';
			smtpd_command(s, s->in.data);
		}
		buf_consume(&s->in, used);
	}
}

/* ---- the data phase ----------------------------------------------------- */

static void smtpd_emit(struct smtpd_session *s, const char *p, size_t n)
{
	if (buf_append(&s->body, p, n) < 0)
		smtpd_lost(s);
}

/* One input byte of the data phase: unstuff leading dots, find the line
 * holding only "." (CRLF or LF), keep everything else as it came. */
static void smtpd_data_byte(struct smtpd_session *s, char c)
{
	switch (s->ds) {
	case DS_DOT:
		if (c == '\r') {
			s->ds = DS_DOT_CR;
			return;
		}
		if (c == '\n') {
			s->body_end = 1;
			return;
		}
		break;          /* a stuffed dot: it is dropped */
	case DS_DOT_CR:
		if (c == '\n') {
			s->body_end = 1;
			return;
		}
		smtpd_emit(s, "\r", 1);
		break;
	case DS_LINE_START:
		if (c == '.') {
			s->ds = DS_DOT;
			return;
		}
		break;
	default:
		break;
	}
	smtpd_emit(s, &c, 1);
	s->ds = c == '\n' ? DS_LINE_START : c == '\r' ? DS_CR : DS_MID;
}

/* Move input into the body buffer: up to a chunk, or the end. */
static void smtpd_data(struct smtpd_session *s)
{
	size_t i, room = SMTPD_BODY_CHUNK - s->body.len - 2;

	for (i = 0; i < s->in.len && i < room && !s->body_end && !s->oom; i++)
		smtpd_data_byte(s, s->in.data[i]);
	buf_consume(&s->in, i);
}

/* ---- stepping ----------------------------------------------------------- */

enum smtpd_event smtpd_step(struct smtpd_session *s)
{
	for (;;) {
		switch (s->phase) {
		case PH_CLOSED:
			return SMTPD_EV_CLOSE;
		case PH_AWAIT_RESULT:
			return SMTPD_EV_NONE;
		case PH_COMMAND:
			smtpd_commands(s);
			if (s->phase == PH_COMMAND)
				return SMTPD_EV_NONE;
			break;
		case PH_DATA:
			if (s->body.len > 0 && (s->body_end || s->body.len
						>= SMTPD_BODY_CHUNK - 2
						|| s->in.len == 0))
				return SMTPD_EV_BODY;
			if (s->body_end) {
				s->phase = PH_AWAIT_RESULT;
				return SMTPD_EV_MESSAGE;
			}
			if (s->in.len == 0)
				return SMTPD_EV_NONE;
			smtpd_data(s);
			break;
		}
	}
}

void smtpd_body(struct smtpd_session *s, const char **p, size_t *n)
{
	*p = s->body.data ? s->body.data : "";
	*n = s->body.len;
	/* handed out: the bytes stay valid until the next step, which
	 * starts an empty chunk */
	s->body.len = 0;
}

int smtpd_feed(struct smtpd_session *s, const char *p, size_t n,
	       struct err *e)
{
	if (buf_append(&s->in, p, n) < 0)
		return err_set_buf(e, ERR_SOFTWARE, "smtpd input overflow");
	return 0;
}

const char *smtpd_sender(const struct smtpd_session *s)
{
	return s->from ? s->from : "";
}

char *const *smtpd_rcpts(const struct smtpd_session *s, size_t *n)
{
	*n = s->nrcpts;
	return s->rcpts;
}

void smtpd_message_result(struct smtpd_session *s, int code, const char *enh,
			  const char *text)
{
	if (enh && *enh)
		smtpd_reply(s, "%03d %s %s", code, enh, text);
	else
		smtpd_reply(s, "%03d %s", code, text);
	smtpd_reset(s);
	if (!s->oom)
		s->phase = PH_COMMAND;
}

int smtpd_mid_line(const struct smtpd_session *s)
{
	if (s->phase == PH_COMMAND)
		return s->in.len > 0 || s->skipping;
	if (s->phase == PH_DATA)
		return s->in.len > 0 || s->ds != DS_LINE_START;
	return 0;
}

int smtpd_in_transaction(const struct smtpd_session *s)
{
	return s->have_mail;
}

int smtpd_quit_seen(const struct smtpd_session *s)
{
	return s->quit;
}

int smtpd_out_of_memory(const struct smtpd_session *s)
{
	return s->oom;
}

const struct buf *smtpd_out(const struct smtpd_session *s)
{
	return &s->out;
}

void smtpd_out_clear(struct smtpd_session *s)
{
	buf_reset(&s->out);
}
