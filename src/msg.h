/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * msg - the message: read once, kept in constant memory, rewritten, encoded.
 *
 * msg_read() consumes the whole input before any connection is opened, so a
 * slow producer never holds a server connection and a producer killed before
 * end of input never causes a partial send.  The header section is kept in
 * memory (bounded by MSG_HEADER_MAX: larger -> ERR_DATAERR); the body stays
 * in memory up to MSG_MEM_MAX and beyond that spills to an unlinked
 * temporary file; a regular-file input is read in place (by offset) without
 * copying.  The message can then be streamed any number of times.
 *
 * The header section is the longest prefix of header-field lines
 * ("Name: value") and their continuation lines; the empty line after it (if
 * any) belongs to it as the separator.
 *
 * msg_enc_* is the pure SMTP DATA filter: line endings (bare LF and bare CR
 * become CRLF, RFC 5321 2.3.8), dot-stuffing (4.5.2), and the final
 * CRLF.CRLF, with state carried across chunks.  NUL bytes and lines longer
 * than 998 octets are passed through unchanged (never truncated).  Its
 * plain mode does the line endings (and the final CRLF) alone.
 *
 * msg_bdat_* hands out the message for BDAT (RFC 3030) in chunks of a size
 * the caller picks: exactly the bytes a server keeps from DATA (the plain
 * encoding: no stuffing, no final dot), msg_wire_size() of them in all.
 */
#ifndef MSMTP_MSG_H
#define MSMTP_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include "addr.h"
#include "buf.h"
#include "err.h"

#define MSG_HEADER_MAX (1024 * 1024)  /* header section limit, bytes */
#define MSG_MEM_MAX (128 * 1024)      /* body bytes held in RAM before spilling */
#define MSG_CHUNK (256 * 1024)        /* streaming block size */

struct msg;

struct msg_read_opts {
	int dot_ends_input;     /* a line holding only "." and ended by LF
				 * or CRLF ends the input (a final "."
				 * without a line end is content) */
	const char *tmpdir;     /* NULL: $TMPDIR, else /tmp */
};

/* Read the whole message from fd.  Errors: ERR_DATAERR (header section too
 * large), ERR_IOERR (read or temporary-file failure), ERR_OSERR (ENOMEM). */
int msg_read(int fd, const struct msg_read_opts *ro, struct msg **out,
	     struct err *e);
void msg_free(struct msg *m);

/* Recipients from the headers, for -t: every To, Cc and Bcc field, or, when
 * Resent- fields are present, the Resent-To/Cc/Bcc of the first (topmost)
 * Resent- block only.  Added with addr_list_add_unique. */
int msg_header_recipients(const struct msg *m, struct addr_list *out,
			  struct err *e);
/* Envelope sender for --read-envelope-from: the address of the From
 * field, or of Resent-From when it comes before From.  *out = NULL when
 * there is none.  *out is malloc'd. */
int msg_header_envelope_from(const struct msg *m, char **out, struct err *e);
/* 1 if a header field with this name (case-insensitive) is present. */
int msg_has_header(const struct msg *m, const char *name);

struct msg_rewrite {
	int set_from_header;    /* 0 off, 1 on (replace), 2 auto (add if missing) */
	const char *from_addr;  /* envelope sender for a generated From */
	const char *full_name;  /* display name for a generated From, or NULL */
	int set_date_header;    /* 0 off, 2 auto */
	int set_msgid_header;   /* 0 off, 2 auto */
	const char *msgid_domain; /* right side of a generated Message-ID */
	int set_to_header;      /* 0 off, 1 on, 2 undisclosed-recipients */
	const struct addr_list *rcpts; /* envelope recipients (for set_to) */
	int remove_bcc_headers; /* 1: drop Bcc and Resent-Bcc fields */
};

/* Build the outgoing header section: generated fields first (From, To,
 * Date, Message-ID, in that order, only as requested), then the original
 * fields minus removed ones, byte for byte.  Can be called again (it always
 * starts from the original header section). */
int msg_rewrite(struct msg *m, const struct msg_rewrite *rw, struct err *e);

/* Stream the outgoing message (rewritten header section, then the body,
 * raw - not yet encoded for DATA).  Rewind before each pass. */
int msg_stream_rewind(struct msg *m, struct err *e);
/* Up to n bytes into dst; returns bytes, 0 at end, -1 on error. */
ssize_t msg_stream_read(struct msg *m, char *dst, size_t n, struct err *e);
/* Bytes msg_stream_read will still hand out: 0 when the stream is at its
 * end (so a writer can put the final dot into the last block). */
uint64_t msg_stream_left(const struct msg *m);

int msg_is_8bit(const struct msg *m);   /* any byte >= 0x80 anywhere */
int msg_has_nul(const struct msg *m);
/* Size in octets as it will go on the wire after line-ending normalisation
 * (before dot-stuffing), for SIZE= and the log.  Valid after msg_rewrite. */
uint64_t msg_wire_size(const struct msg *m);

/* SMTP DATA encoder. */
struct msg_enc {
	int at_line_start;      /* next byte begins a line */
	int pending_cr;         /* last byte fed was a CR (LF may follow) */
	int empty;              /* nothing fed yet */
	int plain;              /* line ends only: no stuffing, no final dot */
};
void msg_enc_init(struct msg_enc *enc);
/* The plain mode, for BDAT: the same line ends, nothing else. */
void msg_enc_init_plain(struct msg_enc *enc);
/* Append the encoding of in[0..n) to out. -1 if out would pass its max. */
int msg_enc_feed(struct msg_enc *enc, const char *in, size_t n,
		 struct buf *out);
/* Finish the body: CRLF if the last line had no terminator, then ".\r\n"
 * (not in plain mode). */
int msg_enc_finish(struct msg_enc *enc, struct buf *out);

/* BDAT reader over the outgoing message (after msg_rewrite).  It encodes
 * one stream block ahead of what it hands out, so it knows which chunk is
 * the last; memory stays constant whatever the message size. */
struct msg_bdat {
	struct msg *m;
	struct msg_enc enc;
	char *raw;              /* one stream block (MSG_CHUNK) */
	struct buf ahead;       /* encoded bytes not handed out yet */
	size_t ahead_off;
	int finished;           /* the stream ended and the encoder finished */
};
/* Rewind the message stream and start reading.  ERR_OSERR on ENOMEM. */
int msg_bdat_start(struct msg_bdat *b, struct msg *m, struct err *e);
/* The next chunk into dst: exactly n bytes (n >= 1) unless the message
 * ends first; *last = 1 when nothing follows it (an empty message gives
 * one empty last chunk; a longer one never ends with an empty chunk).
 * -1 on a read error (err set). */
ssize_t msg_bdat_read(struct msg_bdat *b, char *dst, size_t n, int *last,
		      struct err *e);
void msg_bdat_free(struct msg_bdat *b);

/* RFC 5322 date-time of `when` in local time, as `date -R` writes it
 * ("Wed, 02 Dec 2026 10:00:00 +0100": the day always two digits); -1 when
 * the time cannot be converted or n is too small. */
int msg_format_date(time_t when, char *out, size_t n);
/* Write all n bytes to fd (retrying short writes and EINTR); -1 with
 * errno set on failure. */
int msg_write_all(int fd, const void *p, size_t n);
/* 64 random bits, for identifiers (not for secrets). */
uint64_t msg_random64(void);

#endif
