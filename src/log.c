#include "config.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const char *log_progname = "msmtp";
static int log_debug_on;
static const char *log_file;
static const char *log_timefmt;
static const char *log_facility;

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

int log_debug_enabled(void)
{
	return log_debug_on;
}

static void log_vline(FILE *f, const char *kind, const char *fmt, va_list ap)
{
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

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_debug_on)
		return;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

void log_wire(enum log_dir dir, const char *line, size_t len,
	      size_t redact_from)
{
	size_t shown = redact_from < len ? redact_from : len;
	size_t i;

	if (!log_debug_on)
		return;
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
 * to 10 s for the lock as msmtp does, then write anyway. */
static int log_write_file(const char *path, const char *text, size_t len)
{
	int fd, i;
	struct flock fl;
	ssize_t w;

	if (strcmp(path, "-") == 0) {
		fwrite(text, 1, len, stdout);
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
	w = write(fd, text, len);
	if (close(fd) < 0 || w != (ssize_t)len)
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

void log_record(const char *line, int failed)
{
	char stamp[128] = "";
	char text[8192];
	int n;

	if (log_file != NULL) {
		const char *fmt = log_timefmt ? log_timefmt : "%b %d %H:%M:%S";

		if (strcmp(fmt, "none") != 0) {
			time_t now = time(NULL);
			struct tm tm;

			size_t sl;

			if (localtime_r(&now, &tm) != NULL
			    && (sl = log_strftime(stamp, sizeof stamp - 1, fmt,
						  &tm)) > 0) {
				stamp[sl] = ' ';
				stamp[sl + 1] = '\0';
			}
		}
		n = snprintf(text, sizeof text, "%s%s\n", stamp, line);
		if (n < 0)
			n = 0;
		if ((size_t)n >= sizeof text)
			n = (int)sizeof text - 1;
		if (log_write_file(log_file, text, (size_t)n) < 0)
			fprintf(stderr, "%s: warning: cannot log to %s: %s: %s\n",
				log_progname, log_file, strerror(errno), line);
	}
	if (log_facility != NULL) {
		openlog("msmtp", LOG_PID, log_facility_code(log_facility));
		syslog(failed ? LOG_ERR : LOG_INFO, "%s", line);
		closelog();
	}
}
