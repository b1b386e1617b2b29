/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "autoconfig.h"
#include "buf.h"

#include <errno.h>
#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longest text of one field of an outgoingServer; longer is refused. */
#define AUTOCONFIG_FIELD_MAX 1024

enum autoconfig_field {
	AC_NONE = 0,
	AC_HOSTNAME,
	AC_PORT,
	AC_SOCKET,
	AC_AUTH,
	AC_USERNAME
};

/* The outgoingServer being read. */
struct autoconfig_server {
	char host[AUTOCONFIG_FIELD_MAX + 1];
	char port[AUTOCONFIG_FIELD_MAX + 1];
	char socket[AUTOCONFIG_FIELD_MAX + 1];
	char user[AUTOCONFIG_FIELD_MAX + 1];
	int oauth2;
	int too_long;           /* a field was longer than the limit */
};

struct autoconfig_parser {
	XML_Parser xp;
	const struct autoconfig_addr *who;
	int depth;              /* of the element being read */
	int in_provider;        /* inside clientConfig/emailProvider */
	int in_server;          /* inside clientConfig/emailProvider/
				 * outgoingServer type="smtp" */
	enum autoconfig_field field;
	struct buf text;        /* the current field's text */
	int text_over;
	struct autoconfig_server cur;
	struct provider_server *best;
	int best_rank;          /* 0 none, 1 STARTTLS, 2 SSL */
	int doctype;            /* a DOCTYPE stopped the parse */
	int oom;
	int servers;            /* SMTP servers seen */
	int plain;              /* of them with another socketType */
	char refused[160];      /* why the last one was refused */
};

/* Copy s without leading and trailing ASCII white space. */
static void autoconfig_trim_copy(char *dst, size_t cap, const char *s,
				 size_t n)
{
	while (n > 0 && strchr(" \t\r\n", s[0]) != NULL) {
		s++;
		n--;
	}
	while (n > 0 && strchr(" \t\r\n", s[n - 1]) != NULL)
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static int autoconfig_attr_is(const XML_Char **attr, const char *name,
			      const char *value)
{
	size_t k;

	for (k = 0; attr[k] != NULL && attr[k + 1] != NULL; k += 2)
		if (strcmp(attr[k], name) == 0)
			return strcasecmp(attr[k + 1], value) == 0;
	return 0;
}

static enum autoconfig_field autoconfig_field_of(const char *name)
{
	if (strcmp(name, "hostname") == 0)
		return AC_HOSTNAME;
	if (strcmp(name, "port") == 0)
		return AC_PORT;
	if (strcmp(name, "socketType") == 0)
		return AC_SOCKET;
	if (strcmp(name, "authentication") == 0)
		return AC_AUTH;
	if (strcmp(name, "username") == 0)
		return AC_USERNAME;
	return AC_NONE;
}

static void XMLCALL autoconfig_start(void *ud, const XML_Char *name,
				     const XML_Char **attr)
{
	struct autoconfig_parser *p = ud;

	p->depth++;
	if (p->depth == 1 && strcmp(name, "clientConfig") != 0)
		p->depth += 1000;       /* not ours: nothing below counts */
	if (p->depth == 2)
		p->in_provider = strcmp(name, "emailProvider") == 0;
	if (p->depth == 3 && p->in_provider
	    && strcmp(name, "outgoingServer") == 0
	    && autoconfig_attr_is(attr, "type", "smtp")) {
		p->in_server = 1;
		memset(&p->cur, 0, sizeof p->cur);
	}
	if (p->depth == 4 && p->in_server) {
		p->field = autoconfig_field_of(name);
		buf_reset(&p->text);
		p->text_over = 0;
	}
}

static void XMLCALL autoconfig_text(void *ud, const XML_Char *s, int len)
{
	struct autoconfig_parser *p = ud;

	if (p->field == AC_NONE || p->depth != 4 || len <= 0)
		return;
	if (buf_append(&p->text, s, (size_t)len) < 0) {
		if (errno == ENOMEM) {
			p->oom = 1;
			XML_StopParser(p->xp, XML_FALSE);
		}
		p->text_over = 1;
	}
}

/* Keep the text of a finished field (a value too long taints the
 * server: it is refused rather than cut). */
static void autoconfig_end_field(struct autoconfig_parser *p)
{
	struct autoconfig_server *c = &p->cur;
	char tmp[AUTOCONFIG_FIELD_MAX + 1];
	char *dst = NULL;

	if (p->text_over) {
		c->too_long = 1;
		return;
	}
	switch (p->field) {
	case AC_HOSTNAME: dst = c->host; break;
	case AC_PORT: dst = c->port; break;
	case AC_SOCKET: dst = c->socket; break;
	case AC_USERNAME: dst = c->user; break;
	case AC_AUTH:
		autoconfig_trim_copy(tmp, sizeof tmp, p->text.data ? p->text.data
				     : "", p->text.len);
		if (strcasecmp(tmp, "OAuth2") == 0)
			c->oauth2 = 1;
		return;
	case AC_NONE:
		return;
	}
	if (dst[0] == '\0')     /* the first of repeated fields counts */
		autoconfig_trim_copy(dst, AUTOCONFIG_FIELD_MAX + 1,
				     p->text.data ? p->text.data : "",
				     p->text.len);
}

/* Replace each %NAME% of the table in `in`; the result must fit `cap`.
 * 0, or -1 when too long. */
static int autoconfig_expand(const char *in, char *out, size_t cap,
			     const char *const *names,
			     const char *const *values)
{
	size_t o = 0, k, n;

	while (*in != '\0') {
		const char *v = NULL;

		for (k = 0; names[k] != NULL && v == NULL; k++) {
			n = strlen(names[k]);
			if (strncmp(in, names[k], n) == 0) {
				v = values[k];
				in += n;
			}
		}
		if (v == NULL) {
			if (o + 1 >= cap)
				return -1;
			out[o++] = *in++;
			continue;
		}
		n = strlen(v);
		if (o + n >= cap)
			return -1;
		memcpy(out + o, v, n);
		o += n;
	}
	out[o] = '\0';
	return 0;
}

static void autoconfig_refuse(struct autoconfig_parser *p, const char *what,
			      const char *value)
{
	char shown[BUF_SHOW_SIZE];

	snprintf(p->refused, sizeof p->refused, "%s '%s' refused", what,
		 buf_show(shown, sizeof shown, value, strlen(value)));
}

/* The port: 1 to 5 digits, 1..65535; else 0. */
static int autoconfig_port(const char *s)
{
	long v = 0;
	size_t k;

	if (s[0] == '\0' || strlen(s) > 5)
		return 0;
	for (k = 0; s[k] != '\0'; k++) {
		if (s[k] < '0' || s[k] > '9')
			return 0;
		v = v * 10 + (s[k] - '0');
	}
	return v >= 1 && v <= 65535 ? (int)v : 0;
}

/* The host with %EMAILDOMAIN% filled in, checked, lower case. */
static int autoconfig_host(struct autoconfig_parser *p, char *host,
			   size_t cap)
{
	static const char *const names[] = { "%EMAILDOMAIN%", NULL };
	const char *values[] = { p->who->domain_ascii, NULL };
	size_t k;

	if (!provider_value_ok(p->cur.host, strlen(p->cur.host),
			       PROVIDER_HOST_MAX)
	    || autoconfig_expand(p->cur.host, host, cap, names, values) < 0
	    || !provider_host_ok(host, strlen(host))) {
		autoconfig_refuse(p, "hostname", p->cur.host);
		return -1;
	}
	for (k = 0; host[k] != '\0'; k++)
		if (host[k] >= 'A' && host[k] <= 'Z')
			host[k] = (char)(host[k] - 'A' + 'a');
	return 0;
}

/* The username with its placeholders filled in ("" when none given).
 * The template is checked (it comes from the document); what replaces
 * the placeholders is the user's own address. */
static int autoconfig_user(struct autoconfig_parser *p, char *user,
			   size_t cap)
{
	static const char *const names[] = { "%EMAILADDRESS%",
		"%EMAILLOCALPART%", "%EMAILDOMAIN%", NULL };
	const char *values[] = { p->who->address, p->who->local,
		p->who->domain, NULL };

	user[0] = '\0';
	if (p->cur.user[0] == '\0')
		return 0;
	if (!provider_value_ok(p->cur.user, strlen(p->cur.user),
			       PROVIDER_USER_MAX)
	    || autoconfig_expand(p->cur.user, user, cap, names, values) < 0) {
		autoconfig_refuse(p, "username", p->cur.user);
		return -1;
	}
	return 0;
}

/* A finished outgoingServer: keep it when it is usable and better than
 * the one kept so far. */
static void autoconfig_end_server(struct autoconfig_parser *p)
{
	struct provider_server s;
	int rank, port;

	p->servers++;
	if (strcasecmp(p->cur.socket, "SSL") == 0)
		rank = 2;
	else if (strcasecmp(p->cur.socket, "STARTTLS") == 0)
		rank = 1;
	else {
		p->plain++;
		return;
	}
	if (rank <= p->best_rank)
		return;
	if (p->cur.too_long) {
		snprintf(p->refused, sizeof p->refused, "a value longer than "
			 "%d bytes refused", AUTOCONFIG_FIELD_MAX);
		return;
	}
	memset(&s, 0, sizeof s);
	port = autoconfig_port(p->cur.port);
	if (port == 0) {
		autoconfig_refuse(p, "port", p->cur.port);
		return;
	}
	if (autoconfig_host(p, s.host, sizeof s.host) < 0
	    || autoconfig_user(p, s.user, sizeof s.user) < 0)
		return;
	s.port = port;
	s.starttls = rank == 1;
	s.oauth2 = p->cur.oauth2;
	*p->best = s;
	p->best_rank = rank;
}

static void XMLCALL autoconfig_end(void *ud, const XML_Char *name)
{
	struct autoconfig_parser *p = ud;

	(void)name;
	if (p->depth == 4 && p->in_server && p->field != AC_NONE) {
		autoconfig_end_field(p);
		p->field = AC_NONE;
	} else if (p->depth == 3 && p->in_server) {
		autoconfig_end_server(p);
		p->in_server = 0;
	}
	p->depth--;
	if (p->depth == 1000)   /* the end of a foreign root */
		p->depth = 0;
}

/* No DTD at all: a DOCTYPE is where entities (a billion laughs, an
 * external file) would be declared, and no autoconfig document has one. */
static void XMLCALL autoconfig_doctype(void *ud, const XML_Char *name,
				       const XML_Char *sysid,
				       const XML_Char *pubid, int internal)
{
	struct autoconfig_parser *p = ud;

	(void)name;
	(void)sysid;
	(void)pubid;
	(void)internal;
	p->doctype = 1;
	XML_StopParser(p->xp, XML_FALSE);
}

/* Entity declarations cannot come without a DOCTYPE; stop anyway. */
static void XMLCALL autoconfig_entity(void *ud, const XML_Char *name,
				      int is_param, const XML_Char *value,
				      int value_len, const XML_Char *base,
				      const XML_Char *sysid,
				      const XML_Char *pubid,
				      const XML_Char *notation)
{
	struct autoconfig_parser *p = ud;

	(void)name; (void)is_param; (void)value; (void)value_len;
	(void)base; (void)sysid; (void)pubid; (void)notation;
	p->doctype = 1;
	XML_StopParser(p->xp, XML_FALSE);
}

static void autoconfig_setup(struct autoconfig_parser *p)
{
	XML_SetUserData(p->xp, p);
	XML_SetElementHandler(p->xp, autoconfig_start, autoconfig_end);
	XML_SetCharacterDataHandler(p->xp, autoconfig_text);
	XML_SetStartDoctypeDeclHandler(p->xp, autoconfig_doctype);
	XML_SetEntityDeclHandler(p->xp, autoconfig_entity);
	XML_SetParamEntityParsing(p->xp, XML_PARAM_ENTITY_PARSING_NEVER);
}

/* The verdict after a complete parse. */
static int autoconfig_result(struct autoconfig_parser *p, int rc,
			     struct err *e)
{
	if (p->oom || (rc == XML_STATUS_ERROR
		       && XML_GetErrorCode(p->xp) == XML_ERROR_NO_MEMORY))
		return err_set(e, ERR_OSERR, "out of memory");
	if (p->doctype)
		return err_set(e, ERR_PROTOCOL, "the document has a DOCTYPE "
			       "(refused: no DTD, no entities)");
	if (rc == XML_STATUS_ERROR)
		return err_set(e, ERR_PROTOCOL, "not well-formed XML (line %lu: "
			       "%s)",
			       (unsigned long)XML_GetCurrentLineNumber(p->xp),
			       XML_ErrorString(XML_GetErrorCode(p->xp)));
	if (p->best_rank > 0)
		return 0;
	if (p->refused[0])
		return err_set(e, ERR_UNAVAILABLE, "%s", p->refused);
	if (p->servers > 0 && p->plain == p->servers)
		return err_set(e, ERR_UNAVAILABLE, "only servers without TLS "
			       "(socketType plain: never used)");
	return err_set(e, ERR_UNAVAILABLE, "no SMTP server in the document");
}

int autoconfig_parse(const char *doc, size_t n,
		     const struct autoconfig_addr *who,
		     struct provider_server *out, struct err *e)
{
	struct autoconfig_parser p;
	int rc;

	memset(out, 0, sizeof *out);
	if (n > AUTOCONFIG_MAX)
		return err_set(e, ERR_PROTOCOL, "the document is larger than "
			       "%d bytes", AUTOCONFIG_MAX);
	memset(&p, 0, sizeof p);
	p.who = who;
	p.best = out;
	buf_init(&p.text, AUTOCONFIG_FIELD_MAX);
	p.xp = XML_ParserCreate(NULL);
	if (p.xp == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	autoconfig_setup(&p);
	rc = XML_Parse(p.xp, doc, (int)n, XML_TRUE);
	rc = autoconfig_result(&p, rc, e);
	XML_ParserFree(p.xp);
	buf_free(&p.text);
	if (rc < 0)
		memset(out, 0, sizeof *out);
	return rc;
}
