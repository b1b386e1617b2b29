/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * log - all human-facing output.
 *
 * log_error(): the one error line on stderr ("msmtp: ...").
 * log_wire(): the single transcript writer for --debug; it is the only
 *   place protocol lines are printed, and it redacts everything from
 *   `redact_from` on, so a credential can only reach the output if the
 *   engine forgot to mark it.
 * log_record(): one line per delivery attempt to the logfile and/or
 *   syslog, written whole whatever its length (no fixed buffer) and
 *   ending in exactly one newline.  A log that cannot be written produces
 *   a warning and never changes the exit code.
 */
#ifndef MSMTP_LOG_H
#define MSMTP_LOG_H

#include <stddef.h>

enum log_dir { LOG_CLIENT, LOG_SERVER };

void log_set_prog(const char *prog);
const char *log_prog(void);
void log_set_debug(int on);
/* Whether --debug output is on (to skip work only it would show). */
int log_debugging(void);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A --debug information line (stdout), e.g. connection details. */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One protocol line (without CRLF); bytes at and after redact_from are
 * replaced by "<redacted>".  Pass len for nothing secret. */
void log_wire(enum log_dir dir, const char *line, size_t len,
	      size_t redact_from);

/* Where delivery records go; any argument may be NULL (= off).
 * logfile "-" is stdout; time_format NULL = "%b %d %H:%M:%S", "none" = no
 * time; syslog_facility e.g. "LOG_MAIL". */
void log_configure(const char *logfile, const char *time_format,
		   const char *syslog_facility);
/* Ceiling for the text of one record as callers build it: room for
 * ADDR_MAX_COUNT recipients of the longest address, so a record is never
 * cut because of its size. */
#define LOG_RECORD_MAX (32 * 1024 * 1024)

/* -bs: from now on errors, warnings and --debug lines go to this log file
 * and/or syslog facility (either may be NULL; "-" counts as none), never
 * to stdout or stderr, which belong to the SMTP session.  -1 when out of
 * memory: diverted to nowhere then (stdout and stderr stay protected). */
int log_divert(const char *logfile, const char *time_format,
	       const char *syslog_facility);

/* Write one record (trailing CR/LF in `line` are dropped: the record gets
 * exactly one newline); `failed` selects syslog priority ERR vs INFO. */
void log_record(const char *line, int failed);

#endif
