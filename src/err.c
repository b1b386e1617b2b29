/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void err_init(struct err *e)
{
	e->code = 0;
	e->msg[0] = '\0';
}

/* The one place an error is recorded: the first one wins. */
static int err_vset(struct err *e, int code, const char *fmt, va_list ap)
{
	if (e->code != 0)
		return -1;
	e->code = code ? code : ERR_SOFTWARE;
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	return -1;
}

int err_set(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(e, code, fmt, ap);
	va_end(ap);
	return -1;
}

int err_set_buf(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (errno == ENOMEM)
		return err_set(e, ERR_OSERR, "out of memory");
	va_start(ap, fmt);
	err_vset(e, code, fmt, ap);
	va_end(ap);
	return -1;
}

void err_prefix(struct err *e, const char *fmt, ...)
{
	char ctx[ERR_MSG_MAX];
	char joined[2 * ERR_MSG_MAX + 4];
	va_list ap;

	if (e->code == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof ctx, fmt, ap);
	va_end(ap);
	snprintf(joined, sizeof joined, "%s: %s", ctx, e->msg);
	memcpy(e->msg, joined, sizeof e->msg - 1);
	e->msg[sizeof e->msg - 1] = '\0';
}

void err_recode(struct err *e, int code)
{
	if (e->code != 0 && e->code != ERR_OSERR)
		e->code = code;
}

int err_isset(const struct err *e)
{
	return e->code != 0;
}

const char *err_code_name(int code)
{
	switch (code) {
	case 0: return "EX_OK";
	case ERR_USAGE: return "EX_USAGE";
	case ERR_DATAERR: return "EX_DATAERR";
	case ERR_NOINPUT: return "EX_NOINPUT";
	case ERR_NOHOST: return "EX_NOHOST";
	case ERR_UNAVAILABLE: return "EX_UNAVAILABLE";
	case ERR_SOFTWARE: return "EX_SOFTWARE";
	case ERR_OSERR: return "EX_OSERR";
	case ERR_CANTCREAT: return "EX_CANTCREAT";
	case ERR_IOERR: return "EX_IOERR";
	case ERR_TEMPFAIL: return "EX_TEMPFAIL";
	case ERR_PROTOCOL: return "EX_PROTOCOL";
	case ERR_NOPERM: return "EX_NOPERM";
	case ERR_CONFIG: return "EX_CONFIG";
	default: return "EX_UNKNOWN";
	}
}
