/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The delivery outcome: facts in, class / scope / recipient states and
 * the decisions read from them out.  One table row per situation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "outcome.h"

enum { P = OUTCOME_RCPT_PENDING, D = OUTCOME_RCPT_DELIVERED,
       T = OUTCOME_RCPT_TEMPORARY, X = OUTCOME_RCPT_PERMANENT,
       M = OUTCOME_RCPT_MAYBE };

struct orow {
	const char *name;
	int err_code;                   /* 0: no failure */
	enum outcome_scope scope;
	int lmtp, delivered, maybe;
	size_t n;
	int rcpt[3], final[3];          /* RCPT and LMTP end-of-data codes */
	/* expected */
	enum outcome_class cls;
	int state[3];
	int exit, retry_later, try_elsewhere;
};

static const struct orow rows[] = {
	{ "delivered", 0, OUTCOME_SESSION, 0, 1, 0, 2, { 250, 250 }, { 0 },
	  OUTCOME_DELIVERED, { D, D }, 0, 0, 0 },
	{ "connection refused", 75, OUTCOME_SESSION, 0, 0, 0, 2, { 0 }, { 0 },
	  OUTCOME_TEMPORARY, { P, P }, 75, 1, 1 },
	{ "unknown host", 68, OUTCOME_SESSION, 0, 0, 0, 1, { 0 }, { 0 },
	  OUTCOME_PERMANENT, { P }, 68, 0, 1 },
	{ "AUTH 535", 77, OUTCOME_SESSION, 0, 0, 0, 1, { 0 }, { 0 },
	  OUTCOME_PERMANENT, { P }, 77, 0, 1 },
	{ "RCPT 530 among refusals: session", 65, OUTCOME_SESSION, 0, 0, 0, 2,
	  { 530, 550 }, { 0 }, OUTCOME_PERMANENT, { P, P }, 65, 0, 1 },
	{ "MAIL 451", 75, OUTCOME_MESSAGE, 0, 0, 0, 2, { 0 }, { 0 },
	  OUTCOME_TEMPORARY, { T, T }, 75, 1, 1 },
	{ "MAIL 550", 65, OUTCOME_MESSAGE, 0, 0, 0, 1, { 0 }, { 0 },
	  OUTCOME_PERMANENT, { X }, 65, 0, 0 },
	{ "end of data 554", 69, OUTCOME_MESSAGE, 0, 0, 0, 2, { 250, 250 },
	  { 0 }, OUTCOME_PERMANENT, { X, X }, 69, 0, 0 },
	{ "all or nothing: one 550", 65, OUTCOME_RECIPIENT, 0, 0, 0, 2,
	  { 250, 550 }, { 0 }, OUTCOME_PERMANENT, { P, X }, 65, 0, 0 },
	{ "all or nothing: one 450", 75, OUTCOME_RECIPIENT, 0, 0, 0, 2,
	  { 250, 450 }, { 0 }, OUTCOME_TEMPORARY, { P, T }, 75, 1, 1 },
	{ "partial: sent to one, 450 for the other", 75, OUTCOME_RECIPIENT,
	  0, 1, 0, 2, { 250, 450 }, { 0 }, OUTCOME_TEMPORARY, { D, T }, 75, 1,
	  0 },
	{ "partial: sent to one, 550 for the other", 65, OUTCOME_RECIPIENT,
	  0, 1, 0, 2, { 250, 550 }, { 0 }, OUTCOME_PERMANENT, { D, X }, 65, 0,
	  0 },
	{ "lost after the dot", 75, OUTCOME_SESSION, 0, 0, 1, 1, { 250 },
	  { 0 }, OUTCOME_MAYBE_DELIVERED, { M }, 75, 1, 0 },
	{ "221 after the dot", 76, OUTCOME_SESSION, 0, 0, 1, 1, { 250 },
	  { 0 }, OUTCOME_MAYBE_DELIVERED, { M }, 76, 1, 0 },
	{ "LMTP: 250, 452", 75, OUTCOME_RECIPIENT, 1, 1, 0, 2, { 250, 250 },
	  { 250, 452 }, OUTCOME_TEMPORARY, { D, T }, 75, 1, 0 },
	{ "LMTP: 250, lost", 75, OUTCOME_SESSION, 1, 1, 1, 2, { 250, 250 },
	  { 250, 0 }, OUTCOME_MAYBE_DELIVERED, { D, M }, 75, 1, 0 },
	{ "LMTP: 550 at RCPT, 250", 65, OUTCOME_RECIPIENT, 1, 1, 0, 2,
	  { 550, 250 }, { 0, 250 }, OUTCOME_PERMANENT, { X, D }, 65, 0, 0 },
	{ "lost before MAIL", 75, OUTCOME_SESSION, 0, 0, 0, 1, { 0 }, { 0 },
	  OUTCOME_TEMPORARY, { P }, 75, 1, 1 },
};

static void test_rows(void **state)
{
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct orow *r = &rows[i];
		struct outcome o;
		struct outcome_facts f;
		struct err e, fe;

		err_init(&e);
		err_init(&fe);
		assert_int_equal(outcome_init(&o, r->n, &e), 0);
		for (j = 0; j < r->n; j++) {
			o.rcpt[j].code = r->rcpt[j];
			o.rcpt[j].final_code = r->final[j];
		}
		if (r->err_code)
			err_set(&fe, r->err_code, "failure in %s", r->name);
		memset(&f, 0, sizeof f);
		f.err = &fe;
		f.scope = r->scope;
		f.lmtp = r->lmtp;
		f.delivered = r->delivered;
		f.maybe_delivered = r->maybe;
		outcome_settle(&o, &f);
		if (o.cls != r->cls)
			fail_msg("%s: class %s, expected %s", r->name,
				 outcome_class_name(o.cls),
				 outcome_class_name(r->cls));
		for (j = 0; j < r->n; j++)
			if ((int)o.rcpt[j].state != r->state[j])
				fail_msg("%s: recipient %zu state %d, expected %d",
					 r->name, j, (int)o.rcpt[j].state,
					 r->state[j]);
		if (outcome_exit_code(&o) != r->exit)
			fail_msg("%s: exit %d, expected %d", r->name,
				 outcome_exit_code(&o), r->exit);
		if (outcome_retry_later(&o) != r->retry_later)
			fail_msg("%s: retry_later %d", r->name,
				 outcome_retry_later(&o));
		if (outcome_try_elsewhere(&o) != r->try_elsewhere)
			fail_msg("%s: try_elsewhere %d", r->name,
				 outcome_try_elsewhere(&o));
		outcome_free(&o);
	}
}

static void test_session_failure_and_copy(void **state)
{
	struct outcome o, c;
	struct err e;

	(void)state;
	err_init(&e);
	assert_int_equal(outcome_init(&o, 2, &e), 0);
	err_set(&e, ERR_UNAVAILABLE, "untrusted issuer");
	outcome_session_failure(&o, &e);
	assert_int_equal(o.cls, OUTCOME_PERMANENT);
	assert_int_equal(o.scope, OUTCOME_SESSION);
	assert_string_equal(o.err.msg, "untrusted issuer");
	assert_int_equal(o.rcpt[1].state, OUTCOME_RCPT_PENDING);
	memset(&c, 0, sizeof c);
	err_init(&e);
	assert_int_equal(outcome_copy(&c, &o, &e), 0);
	assert_ptr_not_equal(c.rcpt, o.rcpt);
	assert_int_equal(c.nrcpts, 2);
	assert_string_equal(c.err.msg, "untrusted issuer");
	outcome_free(&o);
	outcome_free(&c);
}

static void test_session_replies(void **state)
{
	(void)state;
	assert_true(outcome_reply_is_session(530, "5.7.0"));
	assert_true(outcome_reply_is_session(530, ""));
	assert_true(outcome_reply_is_session(550, "5.7.0"));
	assert_false(outcome_reply_is_session(550, "5.7.1"));
	assert_false(outcome_reply_is_session(554, ""));
	assert_false(outcome_reply_is_session(450, "4.7.0"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_session_failure_and_copy),
		cmocka_unit_test(test_session_replies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
