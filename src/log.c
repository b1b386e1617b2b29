/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const char *log_progname = "msmtp";
static int log_debug_on;
static const char *log_file;
static const char *log_timefmt;
static const char *log_facility;
/* -bs: stdout is the SMTP channel and stderr must stay empty, so human
 * output goes to the account's log file or syslog, or nowhere. */
static int log_diverted;
static char *log_dv_file, *log_dv_timefmt, *log_dv_facility;

static void log_divert_line(int priority, const char *text);

void log_set_prog(const char *prog)
{
	log_progname = prog;
}

const char *log_prog(void)
{
	return log_progname;
}

void log_set_debug(int on)
{
	log_debug_on = on;
}

int log_debugging(void)
{
	return log_debug_on;
}

/* The diverted paths (-bs) format into a 4 KB stack buffer: kept out of
 * line so that the common paths do not carry that frame.  With stack
 * clash protection every page of a frame is touched on entry, and each
 * new stack page is a page fault (about 13 us on a VM). */
static void log_vline_diverted(const char *kind, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0), noinline));
static void log_vline_diverted(const char *kind, const char *fmt, va_list ap)
{
	char text[4096];
	int n = snprintf(text, sizeof text, "%s: %s", log_progname, kind);

	if (n > 0 && (size_t)n < sizeof text)
		vsnprintf(text + n, sizeof text - (size_t)n, fmt, ap);
	log_divert_line(*kind ? LOG_WARNING : LOG_ERR, text);
}

static void log_vline(FILE *f, const char *kind, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void log_vline(FILE *f, const char *kind, const char *fmt, va_list ap)
{
	if (log_diverted) {
		log_vline_diverted(kind, fmt, ap);
		return;
	}
	fprintf(f, "%s: %s", log_progname, kind);
	vfprintf(f, fmt, ap);
	fputc('\n', f);
	fflush(f);
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(stderr, "", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(stderr, "warning: ", fmt, ap);
	va_end(ap);
}

static void log_debug_diverted(const char *fmt, va_list ap)
	__attribute__((format(printf, 1, 0), noinline));
static void log_debug_diverted(const char *fmt, va_list ap)
{
	char text[4096];

	vsnprintf(text, sizeof text, fmt, ap);
	log_divert_line(LOG_DEBUG, text);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_debug_on)
		return;
	va_start(ap, fmt);
	if (log_diverted) {
		log_debug_diverted(fmt, ap);
	} else {
		vfprintf(stdout, fmt, ap);
		fputc('\n', stdout);
	}
	va_end(ap);
}

static void log_wire_diverted(enum log_dir dir, const char *line,
			      size_t shown, size_t len) __attribute__((noinline));
static void log_wire_diverted(enum log_dir dir, const char *line,
			      size_t shown, size_t len)
{
	char text[4096];
	size_t o = 4;
	size_t i;

	memcpy(text, dir == LOG_CLIENT ? "--> " : "<-- ", 4);
	for (i = 0; i < shown && o + 12 < sizeof text; i++) {
		unsigned char c = (unsigned char)line[i];

		text[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	text[o] = '\0';
	if (shown < len)
		memcpy(text + o, "<redacted>", 11);
	log_divert_line(LOG_DEBUG, text);
}

void log_wire(enum log_dir dir, const char *line, size_t len,
	      size_t redact_from)
{
	size_t shown = redact_from < len ? redact_from : len;
	size_t i;

	if (!log_debug_on)
		return;
	if (log_diverted) {
		log_wire_diverted(dir, line, shown, len);
		return;
	}
	fputs(dir == LOG_CLIENT ? "--> " : "<-- ", stdout);
	for (i = 0; i < shown; i++) {
		unsigned char c = (unsigned char)line[i];
		fputc(c < 0x20 || c == 0x7f ? '?' : c, stdout);
	}
	if (shown < len)
		fputs("<redacted>", stdout);
	fputc('\n', stdout);
}

void log_configure(const char *logfile, const char *time_format,
		   const char *syslog_facility)
{
	log_file = (logfile && *logfile) ? logfile : NULL;
	log_timefmt = time_format;
	log_facility = (syslog_facility && *syslog_facility
			&& strcmp(syslog_facility, "off") != 0)
		? syslog_facility : NULL;
}

static int log_facility_code(const char *name)
{
	static const struct { const char *n; int v; } t[] = {
		{ "LOG_USER", LOG_USER }, { "LOG_MAIL", LOG_MAIL },
		{ "LOG_LOCAL0", LOG_LOCAL0 }, { "LOG_LOCAL1", LOG_LOCAL1 },
		{ "LOG_LOCAL2", LOG_LOCAL2 }, { "LOG_LOCAL3", LOG_LOCAL3 },
		{ "LOG_LOCAL4", LOG_LOCAL4 }, { "LOG_LOCAL5", LOG_LOCAL5 },
		{ "LOG_LOCAL6", LOG_LOCAL6 }, { "LOG_LOCAL7", LOG_LOCAL7 },
	};
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++)
		if (strcmp(t[i].n, name) == 0)
			return t[i].v;
	return LOG_USER;
}

/* Append-and-lock so concurrent runs do not interleave lines; wait up
 * to 10 s for the lock as msmtp does, then write anyway.  The record
 * goes out in one writev() from its pieces: no buffer to outgrow, so it
 * is never cut. */
static int log_write_file(const char *path, struct iovec *iov, int n)
{
	int fd, i;
	struct flock fl;
	ssize_t w;
	size_t len = 0;

	for (i = 0; i < n; i++)
		len += iov[i].iov_len;
	if (strcmp(path, "-") == 0) {
		for (i = 0; i < n; i++)
			fwrite(iov[i].iov_base, 1, iov[i].iov_len, stdout);
		fflush(stdout);
		return ferror(stdout) ? -1 : 0;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
		  0600);
	if (fd < 0)
		return -1;
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	for (i = 0; i < 100 && fcntl(fd, F_SETLK, &fl) < 0; i++)
		usleep(100000);
	w = writev(fd, iov, n);
	if (close(fd) < 0 || w < 0 || (size_t)w != len)
		return -1;
	return 0;
}

/* The format comes from the user's logfile_time_format setting. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static size_t log_strftime(char *dst, size_t n, const char *fmt,
			   const struct tm *tm)
{
	return strftime(dst, n, fmt, tm);
}
#pragma GCC diagnostic pop

/* The time stamp that starts a logfile record ("" for "none"), with its
 * separating space. */
static void log_stamp_fmt(char *dst, size_t n, const char *timefmt)
{
	const char *fmt = timefmt ? timefmt : "%b %d %H:%M:%S";
	time_t now = time(NULL);
	struct tm tm;
	size_t sl;

	dst[0] = '\0';
	if (strcmp(fmt, "none") == 0 || localtime_r(&now, &tm) == NULL)
		return;
	sl = log_strftime(dst, n - 1, fmt, &tm);
	if (sl > 0) {
		dst[sl] = ' ';
		dst[sl + 1] = '\0';
	}
}

static void log_stamp(char *dst, size_t n)
{
	log_stamp_fmt(dst, n, log_timefmt);
}

static char *log_dup(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

int log_divert(const char *logfile, const char *time_format,
	       const char *syslog_facility)
{
	free(log_dv_file);
	free(log_dv_timefmt);
	free(log_dv_facility);
	/* "-" would be the SMTP channel itself */
	log_dv_file = logfile && strcmp(logfile, "-") != 0 ? log_dup(logfile)
		: NULL;
	log_dv_timefmt = log_dup(time_format);
	log_dv_facility = syslog_facility && strcmp(syslog_facility, "off")
		? log_dup(syslog_facility) : NULL;
	log_diverted = 1;
	if ((logfile && strcmp(logfile, "-") != 0 && !log_dv_file)
	    || (time_format && *time_format && !log_dv_timefmt)
	    || (syslog_facility && strcmp(syslog_facility, "off") && *syslog_facility
		&& !log_dv_facility)) {
		free(log_dv_file);
		free(log_dv_timefmt);
		free(log_dv_facility);
		log_dv_file = log_dv_timefmt = log_dv_facility = NULL;
		return -1;
	}
	return 0;
}

/* One diverted line to the log file and/or syslog (or nowhere). */
static void log_divert_line(int priority, const char *text)
{
	char stamp[128];
	struct iovec iov[3];

	if (log_dv_file != NULL) {
		log_stamp_fmt(stamp, sizeof stamp, log_dv_timefmt);
		iov[0].iov_base = stamp;
		iov[0].iov_len = strlen(stamp);
		iov[1].iov_base = (void *)text;
		iov[1].iov_len = strlen(text);
		iov[2].iov_base = "\n";
		iov[2].iov_len = 1;
		log_write_file(log_dv_file, iov, 3);
	}
	if (log_dv_facility != NULL && priority != LOG_DEBUG) {
		openlog("msmtp", LOG_PID, log_facility_code(log_dv_facility));
		syslog(priority, "%s", text);
		closelog();
	}
}

void log_record(const char *line, int failed)
{
	char stamp[128];
	size_t len = strlen(line);
	struct iovec iov[3];

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;          /* the record ends in exactly one newline */
	if (log_file != NULL && !(log_diverted && strcmp(log_file, "-") == 0)) {
		log_stamp(stamp, sizeof stamp);
		iov[0].iov_base = stamp;
		iov[0].iov_len = strlen(stamp);
		iov[1].iov_base = (void *)line;
		iov[1].iov_len = len;
		iov[2].iov_base = "\n";
		iov[2].iov_len = 1;
		if (log_write_file(log_file, iov, 3) < 0 && !log_diverted)
			fprintf(stderr, "%s: warning: cannot log to %s: %s: %.*s\n",
				log_progname, log_file, strerror(errno),
				(int)len, line);
	}
	if (log_facility != NULL) {
		openlog("msmtp", LOG_PID, log_facility_code(log_facility));
		syslog(failed ? LOG_ERR : LOG_INFO, "%s", line);
		closelog();
	}
}
