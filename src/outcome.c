/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "outcome.h"

#include <stdlib.h>
#include <string.h>

int outcome_init(struct outcome *o, size_t nrcpts, struct err *e)
{
	memset(o, 0, sizeof *o);
	err_init(&o->err);
	o->cls = OUTCOME_PERMANENT;
	o->scope = OUTCOME_SESSION;
	o->rcpt = calloc(nrcpts + 1, sizeof *o->rcpt);
	if (o->rcpt == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	o->nrcpts = nrcpts;
	return 0;
}

void outcome_free(struct outcome *o)
{
	free(o->rcpt);
	o->rcpt = NULL;
	o->nrcpts = 0;
}

int outcome_copy(struct outcome *dst, const struct outcome *src,
		 struct err *e)
{
	struct outcome_rcpt *r = calloc(src->nrcpts + 1, sizeof *r);

	if (r == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	if (src->nrcpts > 0)
		memcpy(r, src->rcpt, src->nrcpts * sizeof *r);
	outcome_free(dst);
	*dst = *src;
	dst->rcpt = r;
	return 0;
}

int outcome_reply_is_session(int code, const char *enh)
{
	return code == 530 || (enh != NULL && strcmp(enh, "5.7.0") == 0);
}

/* The state a refusal code gives a recipient. */
static enum outcome_rcpt_state outcome_refusal(int code)
{
	return code / 100 == 4 ? OUTCOME_RCPT_TEMPORARY : OUTCOME_RCPT_PERMANENT;
}

/* A recipient the server accepted at RCPT: what became of the message
 * for it depends on how the transaction ended. */
static enum outcome_rcpt_state outcome_accepted(const struct outcome_rcpt *r,
						const struct outcome_facts *f,
						enum outcome_rcpt_state unsent)
{
	if (f->lmtp && r->final_code != 0) {
		if (r->final_code == 250)
			return OUTCOME_RCPT_DELIVERED;
		if (r->final_code / 100 == 2)
			return OUTCOME_RCPT_MAYBE;      /* a 2xx that is not 250 */
		return outcome_refusal(r->final_code);
	}
	if (!f->lmtp && f->delivered)
		return OUTCOME_RCPT_DELIVERED;
	if (f->maybe_delivered)
		return OUTCOME_RCPT_MAYBE;
	return unsent;
}

/* Recipients the server did not settle take the message's fate: refused
 * with it when the message itself was refused, otherwise still pending. */
static enum outcome_rcpt_state outcome_unsent(const struct outcome_facts *f,
					      int failed)
{
	if (!failed || f->scope != OUTCOME_MESSAGE)
		return OUTCOME_RCPT_PENDING;
	return f->err->code == ERR_TEMPFAIL ? OUTCOME_RCPT_TEMPORARY
		: OUTCOME_RCPT_PERMANENT;
}

static enum outcome_rcpt_state outcome_rcpt_state(const struct outcome_rcpt *r,
						  const struct outcome_facts *f,
						  int failed)
{
	enum outcome_rcpt_state unsent = outcome_unsent(f, failed);

	if (r->code / 100 == 2)
		return outcome_accepted(r, f, unsent);
	if (r->code == 0)
		return unsent;
	/* refused at RCPT; after a session failure (530: authenticate
	 * first) nothing is final about it yet */
	if (failed && f->scope == OUTCOME_SESSION)
		return OUTCOME_RCPT_PENDING;
	return outcome_refusal(r->code);
}

/* The class: maybe delivered wins (it must never be resent blindly),
 * then success; a session failure is temporary or permanent by its
 * error; a message or recipient failure by the worst recipient. */
static enum outcome_class outcome_class_of(const struct outcome *o,
					   const struct outcome_facts *f,
					   int failed)
{
	size_t i;
	int perm = 0, temp = 0, maybe = f->maybe_delivered;

	for (i = 0; i < o->nrcpts; i++) {
		perm |= o->rcpt[i].state == OUTCOME_RCPT_PERMANENT;
		temp |= o->rcpt[i].state == OUTCOME_RCPT_TEMPORARY;
		maybe |= o->rcpt[i].state == OUTCOME_RCPT_MAYBE;
	}
	if (maybe)
		return OUTCOME_MAYBE_DELIVERED;
	if (!failed)
		return OUTCOME_DELIVERED;
	if (f->scope != OUTCOME_SESSION && perm)
		return OUTCOME_PERMANENT;
	if (f->scope != OUTCOME_SESSION && temp)
		return OUTCOME_TEMPORARY;
	return o->err.code == ERR_TEMPFAIL ? OUTCOME_TEMPORARY
		: OUTCOME_PERMANENT;
}

void outcome_settle(struct outcome *o, const struct outcome_facts *f)
{
	int failed = f->err != NULL && err_isset(f->err);
	size_t i;

	err_init(&o->err);
	if (failed) {
		err_set(&o->err, f->err->code, "%s", f->err->msg);
		err_hint_copy(&o->err, f->err);
	}
	o->scope = failed ? f->scope : OUTCOME_RECIPIENT;
	for (i = 0; i < o->nrcpts; i++)
		o->rcpt[i].state = outcome_rcpt_state(&o->rcpt[i], f, failed);
	o->cls = outcome_class_of(o, f, failed);
	/* a 2xx that was not 250 after the dot, or a lost connection there:
	 * never "delivered" and never a plain failure */
	if (o->cls == OUTCOME_MAYBE_DELIVERED && !failed)
		err_set(&o->err, ERR_PROTOCOL, "the server's answer to the end "
			"of data was not 250; the message may have been delivered");
}

void outcome_session_failure(struct outcome *o, const struct err *e)
{
	struct outcome_facts f;

	memset(&f, 0, sizeof f);
	f.err = e;
	f.scope = OUTCOME_SESSION;
	outcome_settle(o, &f);
}

int outcome_exit_code(const struct outcome *o)
{
	if (o->cls == OUTCOME_DELIVERED)
		return 0;
	return o->err.code ? o->err.code : ERR_SOFTWARE;
}

int outcome_delivered(const struct outcome *o)
{
	return o->cls == OUTCOME_DELIVERED;
}

int outcome_retry_later(const struct outcome *o)
{
	return o->cls == OUTCOME_TEMPORARY || o->cls == OUTCOME_MAYBE_DELIVERED;
}

int outcome_try_elsewhere(const struct outcome *o)
{
	size_t i;

	if (o->cls == OUTCOME_DELIVERED || o->cls == OUTCOME_MAYBE_DELIVERED)
		return 0;
	for (i = 0; i < o->nrcpts; i++)
		if (o->rcpt[i].state == OUTCOME_RCPT_DELIVERED
		    || o->rcpt[i].state == OUTCOME_RCPT_MAYBE)
			return 0;
	return o->scope == OUTCOME_SESSION || o->cls == OUTCOME_TEMPORARY;
}

const char *outcome_class_name(enum outcome_class c)
{
	switch (c) {
	case OUTCOME_DELIVERED: return "delivered";
	case OUTCOME_TEMPORARY: return "temporary failure";
	case OUTCOME_PERMANENT: return "permanent failure";
	case OUTCOME_MAYBE_DELIVERED: return "maybe delivered";
	}
	return "?";
}

const char *outcome_scope_name(enum outcome_scope s)
{
	switch (s) {
	case OUTCOME_SESSION: return "session";
	case OUTCOME_MESSAGE: return "message";
	case OUTCOME_RECIPIENT: return "recipient";
	}
	return "?";
}
