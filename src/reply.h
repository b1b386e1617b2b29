/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * reply - incremental SMTP reply reader and EHLO capability parser.  Pure.
 *
 * The caller appends whatever bytes arrived to `in` and calls reply_take()
 * until it returns 0 (need more).  Strict at the edge (RFC 5321 4.2): a
 * reply code is three digits with the first from 2 to 5, every line of a
 * multi-line reply carries the same code, lines end in CRLF (a bare LF is
 * tolerated), and a NUL byte, a line longer than REPLY_LINE_MAX or more than
 * REPLY_LINES_MAX lines make the reply malformed (ERR_PROTOCOL).
 */
#ifndef MSMTP_REPLY_H
#define MSMTP_REPLY_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "err.h"

#define REPLY_LINE_MAX 4096
#define REPLY_LINES_MAX 128
/* The named limit for AUTH exchanges: a 334 challenge (an OAuth error
 * challenge, a long Kerberos token) and our AUTH lines may be this long;
 * enough for the base64 of the longest token we accept (SECRET_MAX). */
#define REPLY_AUTH_LINE_MAX (128 * 1024)
#define REPLY_IN_MAX (REPLY_AUTH_LINE_MAX * 2)

struct reply {
	int code;               /* 200..599 */
	char enh[16];           /* enhanced status "5.1.1" or "" */
	size_t nlines;
	struct buf text;        /* every line without CRLF, joined by '\n' */
};

struct reply_reader {
	size_t line_max;        /* REPLY_LINE_MAX, or more for AUTH replies */
	struct buf in;          /* unconsumed input bytes */
	struct buf cur;         /* lines of the reply being assembled */
	int cur_code;
	size_t cur_lines;
};

void reply_init(struct reply *r);
void reply_free(struct reply *r);
void reply_reader_init(struct reply_reader *rr);
void reply_reader_free(struct reply_reader *rr);
/* Append raw bytes; -1 (ERR_PROTOCOL) if the server sends more unread
 * input than a reply line may hold. */
int reply_feed(struct reply_reader *rr, const char *p, size_t n,
	       struct err *e);
/* 1: a complete reply was moved into r; 0: more input needed; -1: bad. */
int reply_take(struct reply_reader *rr, struct reply *r, struct err *e);
/* The longest line the next reply may have (REPLY_LINE_MAX ..
 * REPLY_AUTH_LINE_MAX). */
void reply_reader_set_line_max(struct reply_reader *rr, size_t max);
/* Bytes received but not yet part of a returned reply. */
size_t reply_pending(const struct reply_reader *rr);

/* One line of r (0-based) without the "NNN-" prefix; len in *len. */
const char *reply_line(const struct reply *r, size_t i, size_t *len);
/* The reply as one line for messages: lines joined with " / ". */
void reply_oneline(const struct reply *r, char *dst, size_t dstlen);

struct smtp_caps {
	int esmtp;              /* EHLO succeeded */
	int pipelining;
	int eightbitmime;
	int smtputf8;
	int dsn;
	int enhancedstatuscodes;
	int chunking;
	int starttls;
	int size;               /* SIZE offered */
	uint64_t size_max;      /* 0 = no limit announced */
	int auth;
	char auth_mechs[512];   /* space-separated, upper case */
	int etrn;
	char name[256];         /* server name from the first EHLO line */
};

/* Fill caps from a 250 EHLO/LHLO reply (keywords case-insensitive, also
 * the old "AUTH=" form). */
void reply_parse_ehlo(const struct reply *r, struct smtp_caps *caps);

#endif
