/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "msg.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<sys/random.h>)
#include <sys/random.h>
#define MSG_HAVE_GETRANDOM 1
#endif
#endif

/*
 * Line ends.  Everywhere in this module a line ends at LF, at CRLF, or at a
 * bare CR, because that is what the DATA encoder turns into CRLF: the header
 * scanner, the "." detector and the wire size must all agree with the bytes
 * the server will see (otherwise "X: y\rBcc: z" could smuggle a Bcc line past
 * the removal).
 */

/* A field name longer than a whole RFC 5322 line (2.1.1) is not one: the
 * line is body text.  This also bounds how much of an undecided line the
 * header scanner has to hold. */
#define MSG_NAME_MAX 998
/* The reading buffer for the header section: the limit plus one slice of
 * input (MSG_HDR_SLICE) and one undecided line. */
#define MSG_HDR_BUF_MAX (MSG_HEADER_MAX + MSG_HDR_SLICE + MSG_NAME_MAX + 16)
/* The rewritten header section: generated fields get 64 KiB on top. */
#define MSG_OUT_MAX (MSG_HEADER_MAX + 64 * 1024)
/* Fold a generated To field before this column. */
#define MSG_FOLD_COL 78
/* The reading block of msg_read.  Smaller than MSG_CHUNK on purpose: the
 * kernel copies into a buffer that stays in the CPU cache, and the
 * statistics scan reads it from there (reading a 100 MB file took 0.01 s
 * of system time in 64 or 128 KiB blocks, 0.04 s in 256 KiB blocks). */
#define MSG_READ_BLOCK (128 * 1024)
/* How much input the header buffer takes at a time. */
#define MSG_HDR_SLICE (8 * 1024)
/* Room for a temporary file name. */
#define MSG_PATH_MAX 4096

/* Counters that give the wire size and the 8-bit/NUL flags of a byte run
 * fed in pieces. */
struct wire_stats {
	uint64_t len;           /* bytes fed */
	uint64_t lf;            /* LF bytes */
	uint64_t cr;            /* CR bytes */
	uint64_t crlf;          /* CR bytes with an LF right after them */
	int prev_cr;            /* last byte fed was CR */
	int last_eol;           /* last byte fed was CR or LF */
	int is_8bit;
	int has_nul;
};

enum body_store {
	BODY_MEM,               /* body_mem holds the body */
	BODY_TMP,               /* body_fd is an unlinked temporary file */
	BODY_INPLACE            /* body_fd is the caller's regular file */
};

struct msg {
	struct buf hdr;         /* original header section with separator */
	int has_separator;      /* hdr ends with the empty line */
	struct buf out;         /* rewritten header section */
	int rewritten;          /* out is valid and is what gets sent */
	enum body_store store;
	struct buf body_mem;
	int body_fd;
	off_t body_off;         /* offset of the body in body_fd */
	uint64_t body_len;
	struct wire_stats body_ws;
	int is_8bit;            /* outgoing message, header and body */
	int has_nul;
	uint64_t wire_size;
	int st_in_body;         /* stream cursor: in the header or body */
	uint64_t st_pos;        /* offset in the current part */
};

/* ---------------------------------------------------------------- stats */

static void ws_init(struct wire_stats *ws)
{
	memset(ws, 0, sizeof *ws);
}

/* The per-byte scan, for what the block scan below leaves over. */
static void ws_feed_bytes(struct wire_stats *ws, const unsigned char *p,
			  size_t n)
{
	int prev_cr = ws->prev_cr;
	unsigned hi = 0, nul = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = p[i];

		ws->lf += c == '\n';
		ws->cr += c == '\r';
		ws->crlf += prev_cr && c == '\n';
		nul |= c == '\0';
		hi |= c;
		prev_cr = c == '\r';
	}
	ws->prev_cr = prev_cr;
	if (hi & 0x80)
		ws->is_8bit = 1;
	if (nul)
		ws->has_nul = 1;
}

/* 16 bytes as one vector (GCC and Clang vector extensions: SSE2 on
 * x86-64, NEON on arm64, plain code elsewhere). */
typedef unsigned char ws_v16 __attribute__((vector_size(16)));

/* The 16 byte counters of v added up. */
static uint64_t ws_v16_sum(ws_v16 v)
{
	uint64_t sum = 0;
	int j;

	for (j = 0; j < 16; j++)
		sum += v[j];
	return sum;
}

static ws_v16 ws_v16_splat(unsigned char c)
{
	ws_v16 v;

	memset(&v, c, sizeof v);
	return v;
}

/* The counts over u[0..k) for the largest k, a multiple of 16, with
 * k < n (the byte at k is read to pair a CR at k - 1 with an LF); returns
 * k.  Branch-free: per 16 bytes a few compares and adds into byte
 * counters, added up every 255 blocks before they can wrap. */
static size_t ws_feed_blocks(struct wire_stats *s, const unsigned char *u,
			     size_t n)
{
	const ws_v16 lfv = ws_v16_splat('\n'), crv = ws_v16_splat('\r');
	const ws_v16 zero = ws_v16_splat(0);
	ws_v16 nul = zero, hi = zero, v, w;
	size_t i = 0, k, blocks;

	if (n < 17)
		return 0;
	s->crlf += s->prev_cr && u[0] == '\n';
	while (i + 17 <= n) {
		ws_v16 lf = zero, cr = zero, pair = zero;

		blocks = (n - 1 - i) / 16;
		if (blocks > 255)
			blocks = 255;
		for (k = 0; k < blocks; k++, i += 16) {
			ws_v16 is_cr;

			memcpy(&v, u + i, 16);
			memcpy(&w, u + i + 1, 16);
			is_cr = (ws_v16)(v == crv);
			lf -= (ws_v16)(v == lfv);
			cr -= is_cr;
			pair -= is_cr & (ws_v16)(w == lfv);
			nul |= (ws_v16)(v == zero);
			hi |= v;
		}
		s->lf += ws_v16_sum(lf);
		s->cr += ws_v16_sum(cr);
		s->crlf += ws_v16_sum(pair);
	}
	if (ws_v16_sum(nul) != 0)
		s->has_nul = 1;
	if (ws_v16_sum(hi & ws_v16_splat(0x80)) != 0)
		s->is_8bit = 1;
	s->prev_cr = 0;         /* a CR at i - 1 has been paired already */
	return i;
}

/* Count what normalisation will do to p[0..n).  This scan runs over
 * every byte of every message before anything is sent (the size and the
 * 8-bit and NUL facts decide the MAIL command), so it goes 16 bytes at a
 * time, at about an instruction per byte. */
static void ws_feed(struct wire_stats *ws, const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	struct wire_stats s = *ws;      /* a local copy stays in registers */
	size_t i = ws_feed_blocks(&s, u, n);

	ws_feed_bytes(&s, u + i, n - i);
	s.len += n;
	if (n > 0)
		s.last_eol = p[n - 1] == '\r' || p[n - 1] == '\n';
	*ws = s;
}

/* Octets after normalisation: every line end (LF, CRLF, bare CR) is 2. */
static uint64_t ws_total(const struct wire_stats *ws)
{
	return ws->len + ws->lf + ws->cr - 2 * ws->crlf;
}
static const struct buf *msg_cur_header(const struct msg *m)
{
	return m->rewritten ? &m->out : &m->hdr;
}

/* Recompute the flags and the wire size of the outgoing message. */
static void msg_update_totals(struct msg *m)
{
	const struct buf *h = msg_cur_header(m);
	struct wire_stats hws;
	int ends_line = 1;

	ws_init(&hws);
	ws_feed(&hws, h->data ? h->data : "", h->len);
	m->is_8bit = hws.is_8bit || m->body_ws.is_8bit;
	m->has_nul = hws.has_nul || m->body_ws.has_nul;
	m->wire_size = ws_total(&hws) + ws_total(&m->body_ws);
	if (m->body_len > 0)
		ends_line = m->body_ws.last_eol;
	else if (h->len > 0)
		ends_line = hws.last_eol;
	if (!ends_line)
		m->wire_size += 2;
}

/* ------------------------------------------------------ header scanning */

enum hs_state {
	HS_LINE_START,          /* next byte begins a line */
	HS_CR_AT_START,         /* a line began with CR: the separator */
	HS_NAME,                /* inside a possible field name */
	HS_LINE,                /* inside a header field line */
	HS_LINE_CR              /* header line, after a CR */
};

struct hscan {
	enum hs_state st;
	size_t pos;             /* next byte of the header buffer to scan */
	size_t line_start;      /* where the current line began */
	int have_field;         /* a field was seen: continuations allowed */
};

static int hs_name_char(unsigned char c)
{
	return c > 32 && c < 127 && c != ':';
}

/* Scan the header buffer for the end of the header section.  Returns 1 with
 * *end (and *sep when the section ends with an empty line) once it is
 * known, 0 when more input is needed. */
static int hs_run(struct hscan *hs, const char *h, size_t len, int eof,
		  size_t *end, int *sep)
{
	while (hs->pos < len) {
		unsigned char c = (unsigned char)h[hs->pos];

		switch (hs->st) {
		case HS_LINE_START:
			hs->line_start = hs->pos;
			if (c == '\n') {
				*sep = 1;
				*end = hs->pos + 1;
				return 1;
			}
			if (c == '\r') {
				hs->st = HS_CR_AT_START;
			} else if ((c == ' ' || c == '\t') && hs->have_field) {
				hs->st = HS_LINE;
			} else if (hs_name_char(c)) {
				hs->st = HS_NAME;
			} else {
				*end = hs->line_start;
				return 1;
			}
			break;
		case HS_CR_AT_START:
			*sep = 1;
			*end = c == '\n' ? hs->pos + 1 : hs->pos;
			return 1;
		case HS_NAME:
			if (c == ':') {
				hs->st = HS_LINE;
				hs->have_field = 1;
			} else if (!hs_name_char(c) ||
				   hs->pos - hs->line_start >= MSG_NAME_MAX) {
				*end = hs->line_start;
				return 1;
			}
			break;
		case HS_LINE:
			if (c == '\n')
				hs->st = HS_LINE_START;
			else if (c == '\r')
				hs->st = HS_LINE_CR;
			break;
		case HS_LINE_CR:
			hs->st = HS_LINE_START;
			if (c != '\n')
				continue;       /* bare CR: c begins a line */
			break;
		}
		hs->pos++;
	}
	if (!eof)
		return 0;
	if (hs->st == HS_NAME) {
		*end = hs->line_start;
		return 1;
	}
	if (hs->st == HS_CR_AT_START)
		*sep = 1;
	*end = len;
	return 1;
}

/* The fewest bytes the header section can still have, given what has been
 * scanned: an undecided field name may yet turn out to be body. */
static size_t hs_known_size(const struct hscan *hs, size_t len)
{
	return hs->st == HS_NAME ? hs->line_start : len;
}

/* ------------------------------------------------------- header fields */

struct field {
	size_t start;           /* first byte of the name */
	size_t end;             /* after the last line end of the field */
	size_t name_len;
	size_t value;           /* first byte after the ':' */
};

/* Offset just past the line end of the line containing pos. */
static size_t line_end_from(const char *h, size_t len, size_t pos)
{
	while (pos < len) {
		if (h[pos] == '\n')
			return pos + 1;
		if (h[pos] == '\r') {
			if (pos + 1 < len && h[pos + 1] == '\n')
				return pos + 2;
			return pos + 1;
		}
		pos++;
	}
	return len;
}

/* Next field of a scanned header section at *pos; 0 at the separator or
 * the end. */
static int field_next(const struct buf *h, size_t *pos, struct field *f)
{
	const char *d = h->data;
	size_t p = *pos, i, e;

	if (d == NULL || p >= h->len || !hs_name_char((unsigned char)d[p]))
		return 0;
	for (i = p; i < h->len && hs_name_char((unsigned char)d[i]); i++)
		;
	if (i >= h->len || d[i] != ':')
		return 0;
	f->start = p;
	f->name_len = i - p;
	f->value = i + 1;
	e = line_end_from(d, h->len, f->value);
	while (e < h->len && (d[e] == ' ' || d[e] == '\t'))
		e = line_end_from(d, h->len, e);
	f->end = e;
	*pos = e;
	return 1;
}

static int field_is(const struct buf *h, const struct field *f,
		    const char *name)
{
	size_t n = strlen(name);

	return f->name_len == n &&
	       strncasecmp(h->data + f->start, name, n) == 0;
}

static int field_is_resent(const struct buf *h, const struct field *f)
{
	return f->name_len > 7 &&
	       strncasecmp(h->data + f->start, "Resent-", 7) == 0;
}

/* The field body with its folding (every CR and LF) removed, RFC 5322
 * 2.2.3; malloc'd, NUL-terminated, length in *len. */
static char *field_unfold(const struct buf *h, const struct field *f,
			  size_t *len)
{
	size_t i, n = 0;
	char *v = malloc(f->end - f->value + 1);

	if (v == NULL)
		return NULL;
	for (i = f->value; i < f->end; i++)
		if (h->data[i] != '\r' && h->data[i] != '\n')
			v[n++] = h->data[i];
	v[n] = '\0';
	*len = n;
	return v;
}

/* Add the addresses of one field to out; errors name the field. */
static int field_addresses(const struct buf *h, const struct field *f,
			   struct addr_list *out, struct err *e)
{
	size_t len;
	char *v = field_unfold(h, f, &len);
	int r;

	if (v == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	r = addr_parse_list(v, len, out, e);
	free(v);
	if (r < 0)
		err_prefix(e, "%.*s header",
			   (int)(f->name_len > 64 ? 64 : f->name_len),
			   h->data + f->start);
	return r;
}

int msg_has_header(const struct msg *m, const char *name)
{
	struct field f;
	size_t pos = 0;

	while (field_next(&m->hdr, &pos, &f))
		if (field_is(&m->hdr, &f, name))
			return 1;
	return 0;
}

static int field_is_recipient(const struct buf *h, const struct field *f)
{
	return field_is(h, f, "To") || field_is(h, f, "Cc") ||
	       field_is(h, f, "Bcc");
}

static int field_is_resent_recipient(const struct buf *h,
				     const struct field *f)
{
	return field_is(h, f, "Resent-To") || field_is(h, f, "Resent-Cc") ||
	       field_is(h, f, "Resent-Bcc");
}

static int msg_has_resent(const struct msg *m)
{
	struct field f;
	size_t pos = 0;

	while (field_next(&m->hdr, &pos, &f))
		if (field_is_resent(&m->hdr, &f))
			return 1;
	return 0;
}

/* Recipients of the first (topmost) Resent- block.  The block runs from the
 * first Resent- field to the first other field, trace fields (Received,
 * Return-Path) excepted; a second Resent-Date or Resent-From starts the
 * next, older block (RFC 5322 3.6.6: one of each per block). */
static int resent_recipients(const struct msg *m, struct addr_list *out,
			     struct err *e)
{
	const struct buf *h = &m->hdr;
	int in_block = 0, seen_date = 0, seen_from = 0;
	struct field f;
	size_t pos = 0;

	while (field_next(h, &pos, &f)) {
		if (!field_is_resent(h, &f)) {
			if (!in_block || field_is(h, &f, "Received") ||
			    field_is(h, &f, "Return-Path"))
				continue;
			break;
		}
		in_block = 1;
		if (field_is(h, &f, "Resent-Date")) {
			if (seen_date++)
				break;
		} else if (field_is(h, &f, "Resent-From")) {
			if (seen_from++)
				break;
		} else if (field_is_resent_recipient(h, &f) &&
			   field_addresses(h, &f, out, e) < 0) {
			return -1;
		}
	}
	return 0;
}

int msg_header_recipients(const struct msg *m, struct addr_list *out,
			  struct err *e)
{
	const struct buf *h = &m->hdr;
	struct field f;
	size_t pos = 0;

	if (msg_has_resent(m))
		return resent_recipients(m, out, e);
	while (field_next(h, &pos, &f))
		if (field_is_recipient(h, &f) &&
		    field_addresses(h, &f, out, e) < 0)
			return -1;
	return 0;
}

int msg_header_envelope_from(const struct msg *m, char **out, struct err *e)
{
	const struct buf *h = &m->hdr;
	struct addr_list l;
	struct field f;
	size_t pos = 0;
	int r = 0, found = 0;

	*out = NULL;
	while (!found && field_next(h, &pos, &f))
		found = field_is(h, &f, "From") ||
			field_is(h, &f, "Resent-From");
	if (!found)
		return 0;
	addr_list_init(&l);
	if (field_addresses(h, &f, &l, e) < 0) {
		r = -1;
	} else if (l.n > 0) {
		*out = strdup(l.v[0]);
		if (*out == NULL)
			r = err_set(e, ERR_OSERR, "out of memory");
	}
	addr_list_free(&l);
	return r;
}

/* ------------------------------------------------------------ reading */

enum dot_state {
	DS_LINE_START,          /* next byte begins a line */
	DS_MID,                 /* inside a line */
	DS_CR,                  /* after a CR (LF may follow) */
	DS_DOT,                 /* a "." began the line; it is held back */
	DS_DOT_CR               /* "." and a CR, held back until an LF */
};

struct reader {
	struct msg *m;
	const char *tmpdir;
	int dot_ends_input;
	int in_header;          /* still looking for the header's end */
	struct hscan hs;
	enum dot_state ds;
	int finished;           /* a "." line ended the message */
};

static const char *reader_tmpdir(const struct msg_read_opts *ro)
{
	const char *d;

	if (ro != NULL && ro->tmpdir != NULL && ro->tmpdir[0] != '\0')
		return ro->tmpdir;
	d = getenv("TMPDIR");
	if (d != NULL && d[0] != '\0')
		return d;
	return "/tmp";
}

/* An anonymous 0600 file in dir: O_TMPFILE where the kernel and the file
 * system have it, otherwise mkstemp and an immediate unlink. */
static int tmp_open(const char *dir, struct err *e)
{
	char path[MSG_PATH_MAX];
	int fd, n;

#ifdef O_TMPFILE
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
#endif
	n = snprintf(path, sizeof path, "%s/msmtp-msg.XXXXXX", dir);
	if (n < 0 || (size_t)n >= sizeof path)
		return err_set(e, ERR_IOERR,
			       "temporary directory name too long: %s", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return err_set(e, ERR_IOERR,
			       "cannot create a temporary file in %s: %s", dir,
			       strerror(errno));
	if (unlink(path) < 0) {
		err_set(e, ERR_IOERR, "cannot remove temporary file %s: %s",
			path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int msg_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The spill file's write, with the error the reader reports. */
static int msg_spill_write(int fd, const char *p, size_t n, struct err *e)
{
	if (msg_write_all(fd, p, n) < 0)
		return err_set(e, ERR_IOERR, "cannot write the temporary file: %s",
			       strerror(errno));
	return 0;
}

/* Move the in-memory body to a temporary file. */
static int body_spill(struct reader *r, struct err *e)
{
	struct msg *m = r->m;
	int fd = tmp_open(r->tmpdir, e);

	if (fd < 0)
		return -1;
	if (msg_spill_write(fd, m->body_mem.data, m->body_mem.len, e) < 0) {
		close(fd);
		return -1;
	}
	buf_free(&m->body_mem);
	m->body_fd = fd;
	m->body_off = 0;
	m->store = BODY_TMP;
	return 0;
}

/* Accept n body bytes for good: count them and store them. */
static int body_commit(struct reader *r, const char *p, size_t n,
		       struct err *e)
{
	struct msg *m = r->m;

	if (n == 0)
		return 0;
	ws_feed(&m->body_ws, p, n);
	if (m->store == BODY_MEM && m->body_mem.len + n > MSG_MEM_MAX &&
	    body_spill(r, e) < 0)
		return -1;
	if (m->store == BODY_MEM && buf_append(&m->body_mem, p, n) < 0)
		return err_set(e, ERR_OSERR, "out of memory");
	if (m->store == BODY_TMP && msg_spill_write(m->body_fd, p, n, e) < 0)
		return -1;
	m->body_len += n;
	return 0;
}

static enum dot_state dot_next(unsigned char c)
{
	if (c == '\n')
		return DS_LINE_START;
	if (c == '\r')
		return DS_CR;
	return DS_MID;
}

/* Settle a held-back "." (DS_DOT) or ".\r" (DS_DOT_CR) that turned out
 * not to end the input: it is content. */
static int msg_dot_release(struct reader *r, struct err *e)
{
	size_t held = r->ds == DS_DOT ? 1 : r->ds == DS_DOT_CR ? 2 : 0;

	return body_commit(r, ".\r", held, e);
}

/* Body bytes with the "." end-of-input check: only a line holding a
 * single "." ended by LF or CRLF ends the message, as classic sendmail
 * reads lines (doc/msmtp.1).  The "." (and a CR after it) is held back
 * until the next byte decides; a bare CR still ends the line it is in,
 * as everywhere in this module. */
static int body_feed_dots(struct reader *r, const char *p, size_t n,
			  struct err *e)
{
	size_t i, span = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		int line_start = r->ds == DS_LINE_START ||
				 (r->ds == DS_CR && c != '\n');

		if (r->ds == DS_DOT || r->ds == DS_DOT_CR) {
			if (c == '\n') {
				r->finished = 1;
				return 0;
			}
			if (r->ds == DS_DOT && c == '\r') {
				r->ds = DS_DOT_CR;
				span = i + 1;
				continue;
			}
			if (msg_dot_release(r, e) < 0)
				return -1;
			span = i;
			line_start = r->ds == DS_DOT_CR; /* bare CR ended it */
		}
		if (line_start && c == '.') {
			if (body_commit(r, p + span, i - span, e) < 0)
				return -1;
			span = i + 1;
			r->ds = DS_DOT;
			continue;
		}
		r->ds = dot_next(c);
	}
	return body_commit(r, p + span, n - span, e);
}

static int body_feed(struct reader *r, const char *p, size_t n, struct err *e)
{
	if (r->finished)
		return 0;
	if (!r->dot_ends_input)
		return body_commit(r, p, n, e);
	return body_feed_dots(r, p, n, e);
}

/* The header section ends at `end` of the header buffer: check the limit,
 * hand what follows to the body. */
static int header_done(struct reader *r, size_t end, int sep, struct err *e)
{
	struct buf *h = &r->m->hdr;
	int rc = 0;

	r->in_header = 0;
	if (end > MSG_HEADER_MAX)
		return err_set(e, ERR_DATAERR,
			       "header section is larger than %d bytes",
			       MSG_HEADER_MAX);
	r->m->has_separator = sep;
	if (end < h->len)
		rc = body_feed(r, h->data + end, h->len - end, e);
	if (h->data != NULL) {
		buf_wipe(h->data + end, h->len - end);
		h->len = end;
		h->data[end] = '\0';
	}
	return rc;
}

/* A slice of input while the header section is still open. */
static int reader_feed_header(struct reader *r, const char *p, size_t n,
			      struct err *e)
{
	struct buf *h = &r->m->hdr;
	size_t end;
	int sep = 0;

	if (buf_append(h, p, n) < 0)
		return err_set(e, ERR_OSERR, "out of memory");
	if (hs_run(&r->hs, h->data, h->len, 0, &end, &sep))
		return header_done(r, end, sep, e);
	if (hs_known_size(&r->hs, h->len) > MSG_HEADER_MAX)
		return err_set(e, ERR_DATAERR,
			       "header section is larger than %d bytes",
			       MSG_HEADER_MAX);
	return 0;
}

/* The header buffer takes the input in slices, so that a large read
 * copies little more than the header section itself there: the rest goes
 * to the body straight from the read block. */
static int reader_feed(struct reader *r, const char *p, size_t n,
		       struct err *e)
{
	size_t k;

	while (n > 0 && r->in_header) {
		k = n < MSG_HDR_SLICE ? n : MSG_HDR_SLICE;
		if (reader_feed_header(r, p, k, e) < 0)
			return -1;
		p += k;
		n -= k;
	}
	if (n == 0)
		return 0;
	return body_feed(r, p, n, e);
}

/* End of input: settle the header section; a held-back "." without a
 * line end after it is content. */
static int reader_eof(struct reader *r, struct err *e)
{
	struct buf *h = &r->m->hdr;
	size_t end;
	int sep = 0;

	if (r->in_header) {
		hs_run(&r->hs, h->data ? h->data : "", h->len, 1, &end, &sep);
		if (header_done(r, end, sep, e) < 0)
			return -1;
	}
	if (r->dot_ends_input && !r->finished)
		return msg_dot_release(r, e);
	return 0;
}

static ssize_t read_retry(int fd, char *p, size_t n)
{
	ssize_t r;

	do
		r = read(fd, p, n);
	while (r < 0 && errno == EINTR);
	return r;
}

/* Offset of fd when it is a regular file that can be read in place, else
 * -1; *left gets the bytes after it (0 when unknown). */
static off_t inplace_start(int fd, off_t *left)
{
	struct stat st;
	off_t at;

	*left = 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return -1;
	at = lseek(fd, 0, SEEK_CUR);
	if (at >= 0 && st.st_size > at)
		*left = st.st_size - at;
	return at;
}

/* The read block: MSG_READ_BLOCK, or less for a small regular file (one
 * more byte than it holds, so the second read sees its end).  A small
 * block stays in the heap's first pages; a 128 KiB one is an mmap and a
 * page fault of its own. */
static size_t reader_block(off_t left)
{
	if (left <= 0 || left >= MSG_READ_BLOCK - 1)
		return MSG_READ_BLOCK;
	return (size_t)left + 1 < 4096 ? 4096 : (size_t)left + 1;
}

static struct msg *msg_new(void)
{
	struct msg *m = calloc(1, sizeof *m);

	if (m == NULL)
		return NULL;
	buf_init(&m->hdr, MSG_HDR_BUF_MAX);
	buf_init(&m->out, MSG_OUT_MAX);
	buf_init(&m->body_mem, MSG_MEM_MAX);
	m->body_fd = -1;
	m->store = BODY_MEM;
	ws_init(&m->body_ws);
	return m;
}

/* Read fd to its end (or to a "." line) through the reader. */
static int reader_loop(struct reader *r, int fd, int inplace, size_t block,
		       struct err *e)
{
	char *chunk = malloc(block);
	ssize_t n;
	int rc = 0;

	if (chunk == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	for (;;) {
		n = read_retry(fd, chunk, block);
		if (n < 0) {
			rc = err_set(e, ERR_IOERR, "cannot read the message: %s",
				     strerror(errno));
			break;
		}
		if (n == 0) {
			rc = reader_eof(r, e);
			break;
		}
		/* After a "." line a pipe is drained so the writer does not
		 * get SIGPIPE; a file needs no draining. */
		if (r->finished && !inplace)
			continue;
		if (reader_feed(r, chunk, (size_t)n, e) < 0) {
			rc = -1;
			break;
		}
		if (r->finished && inplace)
			break;
	}
	free(chunk);
	return rc;
}

int msg_read(int fd, const struct msg_read_opts *ro, struct msg **out,
	     struct err *e)
{
	struct reader r;
	struct msg *m;
	off_t left;
	off_t start = inplace_start(fd, &left);

	*out = NULL;
	m = msg_new();
	if (m == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	memset(&r, 0, sizeof r);
	r.m = m;
	r.tmpdir = reader_tmpdir(ro);
	r.dot_ends_input = ro != NULL && ro->dot_ends_input;
	r.in_header = 1;
	r.hs.st = HS_LINE_START;
	r.ds = DS_LINE_START;
	if (start >= 0)
		m->store = BODY_INPLACE;
	if (reader_loop(&r, fd, start >= 0, reader_block(left), e) < 0)
		goto fail;
	if (start >= 0) {
		m->body_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (m->body_fd < 0) {
			err_set(e, ERR_OSERR, "cannot duplicate the input: %s",
				strerror(errno));
			goto fail;
		}
		m->body_off = start + (off_t)m->hdr.len;
	}
	msg_update_totals(m);
	*out = m;
	return 0;
fail:
	msg_free(m);
	return -1;
}

void msg_free(struct msg *m)
{
	if (m == NULL)
		return;
	buf_free(&m->hdr);
	buf_free(&m->out);
	buf_free(&m->body_mem);
	if (m->body_fd >= 0)
		close(m->body_fd);
	free(m);
}

/* ------------------------------------------------------------ rewrite */

/* Append to the rewritten header.  A CR ending the text so far followed by
 * an LF starting p would join into one CRLF and swallow a line end, so an
 * LF is put between them to keep both. */
static int out_put(struct buf *o, const char *p, size_t n)
{
	if (n > 0 && p[0] == '\n' && o->len > 0 &&
	    o->data[o->len - 1] == '\r' && buf_append(o, "\n", 1) < 0)
		return -1;
	return buf_append(o, p, n);
}

static int has_line_break(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

static int gen_from(struct buf *o, const struct msg_rewrite *rw,
		    struct err *e)
{
	char *name;
	int r;

	if (has_line_break(rw->from_addr))
		return err_set(e, ERR_USAGE,
			       "envelope sender contains a line break");
	if (rw->full_name == NULL || rw->full_name[0] == '\0')
		return buf_printf(o, "From: %s\n", rw->from_addr) < 0 ? 1 : 0;
	if (has_line_break(rw->full_name))
		return err_set(e, ERR_USAGE, "full name contains a line break");
	name = addr_encode_display_name(rw->full_name);
	if (name == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	r = buf_printf(o, "From: %s <%s>\n", name, rw->from_addr);
	free(name);
	return r < 0 ? 1 : 0;
}

/* "To: a, b, c", folded before MSG_FOLD_COL between addresses. */
static int gen_to(struct buf *o, const struct msg_rewrite *rw,
		  struct err *e)
{
	const struct addr_list *l = rw->rcpts;
	size_t i, col, alen;

	if (rw->set_to_header == 2 || l == NULL || l->n == 0)
		return buf_append_str(o, "To: undisclosed-recipients:;\n") < 0;
	if (buf_append_str(o, "To: ") < 0)
		return 1;
	col = 4;
	for (i = 0; i < l->n; i++) {
		if (has_line_break(l->v[i]))
			return err_set(e, ERR_DATAERR,
				       "recipient contains a line break");
		alen = strlen(l->v[i]);
		if (i > 0 && col + 2 + alen > MSG_FOLD_COL) {
			if (buf_append_str(o, ",\n ") < 0)
				return 1;
			col = 1;
		} else if (i > 0) {
			if (buf_append_str(o, ", ") < 0)
				return 1;
			col += 2;
		}
		if (buf_append(o, l->v[i], alen) < 0)
			return 1;
		col += alen;
	}
	return buf_append_str(o, "\n") < 0;
}

static const char *const msg_days[] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char *const msg_months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/* Minutes east of UTC for the moment `now`, from the difference between
 * local and UTC broken-down times (no tm_gmtoff needed). */
static long utc_offset_minutes(const struct tm *lt, const struct tm *gt)
{
	long days = lt->tm_yday - gt->tm_yday;

	if (lt->tm_year != gt->tm_year)
		days = lt->tm_year > gt->tm_year ? 1 : -1;
	return (days * 24 + lt->tm_hour - gt->tm_hour) * 60 +
	       lt->tm_min - gt->tm_min;
}

/* RFC 5322 3.3 date-time in local time, C-locale names, in the form of
 * `date -R` that msmtp writes (the day always in two digits). */
int msg_format_date(time_t when, char *out, size_t n)
{
	struct tm lt, gt;
	long off;
	int w;

	if (localtime_r(&when, &lt) == NULL || gmtime_r(&when, &gt) == NULL ||
	    lt.tm_wday < 0 || lt.tm_wday > 6 || lt.tm_mon < 0 || lt.tm_mon > 11)
		return -1;
	off = utc_offset_minutes(&lt, &gt);
	w = snprintf(out, n, "%s, %02d %s %d %02d:%02d:%02d %c%02ld%02ld",
		     msg_days[lt.tm_wday], lt.tm_mday, msg_months[lt.tm_mon],
		     lt.tm_year + 1900, lt.tm_hour, lt.tm_min, lt.tm_sec,
		     off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
	return w > 0 && (size_t)w < n ? 0 : -1;
}

static int gen_date(struct buf *o, time_t now, struct err *e)
{
	char date[64];

	if (msg_format_date(now, date, sizeof date) < 0)
		return err_set(e, ERR_OSERR, "cannot determine the local time");
	return buf_printf(o, "Date: %s\n", date) < 0;
}

/* Mix bits for the fallback random source (splitmix64 finaliser). */
static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static int read_urandom(void *p, size_t n)
{
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	ssize_t r;
	size_t got = 0;

	if (fd < 0)
		return -1;
	while (got < n) {
		r = read(fd, (char *)p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	return got == n ? 0 : -1;
}

/* 64 random bits (Message-IDs, queue ids): getrandom(), /dev/urandom,
 * and as a last resort time, pid and a counter, mixed. */
uint64_t msg_random64(void)
{
	static uint64_t counter;
	struct timespec ts;
	uint64_t v = 0;

#ifdef MSG_HAVE_GETRANDOM
	ssize_t r;

	do
		r = getrandom(&v, sizeof v, 0);
	while (r < 0 && errno == EINTR);
	if (r == (ssize_t)sizeof v)
		return v;
#endif
	if (read_urandom(&v, sizeof v) == 0)
		return v;
	clock_gettime(CLOCK_REALTIME, &ts);
	counter++;
	return mix64((uint64_t)ts.tv_sec ^ mix64((uint64_t)ts.tv_nsec) ^
		     mix64(((uint64_t)getpid() << 32) ^ counter));
}

static int gen_msgid(struct buf *o, time_t now, const char *domain,
		     struct err *e)
{
	struct tm gt;

	if (domain == NULL || domain[0] == '\0')
		domain = "localhost";
	if (strpbrk(domain, "\r\n\t <>()[]\\\",;@") != NULL)
		return err_set(e, ERR_USAGE, "invalid domain for Message-ID: %s",
			       domain);
	if (gmtime_r(&now, &gt) == NULL)
		return err_set(e, ERR_OSERR, "cannot determine the time");
	return buf_printf(o,
			  "Message-ID: <%04d%02d%02d.%02d%02d%02d.%ld.%016llx@%s>\n",
			  gt.tm_year + 1900, gt.tm_mon + 1, gt.tm_mday,
			  gt.tm_hour, gt.tm_min, gt.tm_sec, (long)getpid(),
			  (unsigned long long)msg_random64(), domain) < 0;
}

struct rw_plan {
	int from;               /* generate From */
	int drop_from;          /* remove original From fields */
	int to;                 /* generate To, remove To/Cc/Bcc */
	int date;
	int msgid;
};

static void rw_plan_make(const struct msg *m, const struct msg_rewrite *rw,
			 struct rw_plan *p)
{
	int have_addr = rw->from_addr != NULL && rw->from_addr[0] != '\0';

	p->from = have_addr && (rw->set_from_header == 1 ||
				(rw->set_from_header == 2 &&
				 !msg_has_header(m, "From")));
	p->drop_from = p->from && rw->set_from_header == 1;
	p->to = rw->set_to_header != 0;
	p->date = rw->set_date_header == 2 && !msg_has_header(m, "Date");
	p->msgid = rw->set_msgid_header == 2 &&
		   !msg_has_header(m, "Message-ID");
}

static int field_dropped(const struct buf *h, const struct field *f,
			 const struct msg_rewrite *rw, const struct rw_plan *p)
{
	if (rw->remove_bcc_headers &&
	    (field_is(h, f, "Bcc") || field_is(h, f, "Resent-Bcc")))
		return 1;
	if (p->drop_from && field_is(h, f, "From"))
		return 1;
	return p->to && field_is_recipient(h, f);
}

/* The generated fields.  Returns 0, -1 with e set, or 1 when the buffer
 * refused (reported by the caller). */
static int rw_generate(struct buf *o, const struct msg_rewrite *rw,
		       const struct rw_plan *p, struct err *e)
{
	time_t now = time(NULL);
	int r = 0;

	if (p->from)
		r = gen_from(o, rw, e);
	if (r == 0 && p->to)
		r = gen_to(o, rw, e);
	if (r == 0 && p->date)
		r = gen_date(o, now, e);
	if (r == 0 && p->msgid)
		r = gen_msgid(o, now, rw->msgid_domain, e);
	return r;
}

/* The original fields that stay, byte for byte, then the separator. */
static int rw_copy(const struct msg *m, struct buf *o,
		   const struct msg_rewrite *rw, const struct rw_plan *p)
{
	const struct buf *h = &m->hdr;
	struct field f;
	size_t pos = 0;

	while (field_next(h, &pos, &f))
		if (!field_dropped(h, &f, rw, p) &&
		    out_put(o, h->data + f.start, f.end - f.start) < 0)
			return 1;
	if (pos < h->len)
		return out_put(o, h->data + pos, h->len - pos) < 0;
	/* No separator: add one so the body cannot pass for header fields. */
	if (!m->has_separator && m->body_len > 0 && o->len > 0)
		return out_put(o, "\n", 1) < 0;
	return 0;
}

int msg_rewrite(struct msg *m, const struct msg_rewrite *rw, struct err *e)
{
	struct rw_plan plan;
	struct buf o;
	int r;

	rw_plan_make(m, rw, &plan);
	buf_init(&o, MSG_OUT_MAX);
	r = rw_generate(&o, rw, &plan, e);
	if (r == 0)
		r = rw_copy(m, &o, rw, &plan);
	if (r != 0) {
		if (r > 0 && errno == E2BIG)
			err_set(e, ERR_DATAERR,
				"rewritten header section is larger than %d bytes",
				MSG_OUT_MAX);
		else if (r > 0)
			err_set(e, ERR_OSERR, "out of memory");
		buf_free(&o);
		return -1;
	}
	buf_free(&m->out);
	m->out = o;
	m->rewritten = 1;
	m->st_in_body = 0;
	m->st_pos = 0;
	msg_update_totals(m);
	return 0;
}

/* ---------------------------------------------------------- streaming */

int msg_stream_rewind(struct msg *m, struct err *e)
{
	m->st_in_body = 0;
	m->st_pos = 0;
	return 0;
}

/* Up to n body bytes at the cursor. */
static ssize_t body_read(struct msg *m, char *dst, size_t n, struct err *e)
{
	uint64_t left = m->body_len - m->st_pos;
	ssize_t r;

	if (n > left)
		n = (size_t)left;
	if (m->store == BODY_MEM) {
		memcpy(dst, m->body_mem.data + m->st_pos, n);
		return (ssize_t)n;
	}
	do
		r = pread(m->body_fd, dst, n, m->body_off + (off_t)m->st_pos);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return err_set(e, ERR_IOERR, "cannot read the message %s: %s",
			       m->store == BODY_TMP ? "temporary file" : "file",
			       strerror(errno));
	if (r == 0)
		return err_set(e, ERR_IOERR,
			       "the message file became shorter while sending");
	return r;
}

ssize_t msg_stream_read(struct msg *m, char *dst, size_t n, struct err *e)
{
	const struct buf *h = msg_cur_header(m);
	size_t got = 0, take;
	ssize_t r;

	if (n > SSIZE_MAX)
		n = SSIZE_MAX;
	if (!m->st_in_body) {
		take = h->len - (size_t)m->st_pos;
		if (take > n)
			take = n;
		if (take > 0)
			memcpy(dst, h->data + m->st_pos, take);
		got = take;
		m->st_pos += take;
		if (m->st_pos == h->len) {
			m->st_in_body = 1;
			m->st_pos = 0;
		}
	}
	while (got < n && m->st_in_body && m->st_pos < m->body_len) {
		r = body_read(m, dst + got, n - got, e);
		if (r < 0)
			return -1;
		got += (size_t)r;
		m->st_pos += (uint64_t)r;
	}
	return (ssize_t)got;
}

uint64_t msg_stream_left(const struct msg *m)
{
	const struct buf *h = msg_cur_header(m);

	if (!m->st_in_body)
		return (h->len - m->st_pos) + m->body_len;
	return m->body_len - m->st_pos;
}

int msg_is_8bit(const struct msg *m)
{
	return m->is_8bit;
}

int msg_has_nul(const struct msg *m)
{
	return m->has_nul;
}

uint64_t msg_wire_size(const struct msg *m)
{
	return m->wire_size;
}

/* ------------------------------------------------------------ encoder */

void msg_enc_init(struct msg_enc *enc)
{
	enc->at_line_start = 1;
	enc->pending_cr = 0;
	enc->empty = 1;
	enc->plain = 0;
}

void msg_enc_init_plain(struct msg_enc *enc)
{
	msg_enc_init(enc);
	enc->plain = 1;
}

/* Offset of the next c in in[from..n), or n; memchr keeps it fast. */
static size_t next_byte(const char *in, size_t from, size_t n, char c)
{
	const char *p = memchr(in + from, c, n - from);

	return p ? (size_t)(p - in) : n;
}

/* Where enc_run writes: straight into the output buffer's spare room. */
struct enc_out {
	char *p;                /* next byte */
	char *end;              /* the room ends here (the NUL stays free) */
};

static int enc_put(struct enc_out *o, const char *s, size_t n)
{
	if (n > (size_t)(o->end - o->p))
		return -1;
	if (n > 0)
		memcpy(o->p, s, n);
	o->p += n;
	return 0;
}

/* The encoding proper.  The output only differs from the input where a
 * line end is completed (bare LF, bare CR) or a dot is doubled, so the
 * input goes out in spans between those places: a CRLF text without
 * leading dots is a single copy.  Room for the worst case (every byte
 * doubled) is made once, capped at the buffer's ceiling, so the output
 * fails only where appending piece by piece would have.  out->len is
 * advanced on success only. */
static int enc_run(struct msg_enc *enc, const char *in, size_t n,
		   struct buf *out)
{
	size_t i = 0, span, lf = 0, cr = 0, stop;
	int lf_known = 0, cr_known = 0;
	struct enc_out o;

	if (buf_room(out, n > (SIZE_MAX - 2) / 2 ? SIZE_MAX : 2 * n + 2) < 0)
		return -1;
	o.p = out->data + out->len;
	o.end = out->data + out->cap - 1;
	if (enc->pending_cr) {
		if (enc_put(&o, "\r\n", 2) < 0)
			return -1;
		enc->pending_cr = 0;
		enc->at_line_start = 1;
		if (in[0] == '\n')
			i = 1;
	}
	span = i;
	while (i < n) {
		if (enc->at_line_start) {
			enc->at_line_start = 0;
			if (in[i] == '.' && !enc->plain) {      /* RFC 5321 4.5.2 */
				if (enc_put(&o, in + span, i - span) < 0
				    || enc_put(&o, ".", 1) < 0)
					return -1;
				span = i;
			}
		}
		if (!lf_known || lf < i) {
			lf = next_byte(in, i, n, '\n');
			lf_known = 1;
		}
		if (!cr_known || cr < i) {
			cr = next_byte(in, i, n, '\r');
			cr_known = 1;
		}
		stop = lf < cr ? lf : cr;
		if (stop == n)
			break;
		if (in[stop] == '\n') {                 /* bare LF */
			if (enc_put(&o, in + span, stop - span) < 0
			    || enc_put(&o, "\r\n", 2) < 0)
				return -1;
			i = span = stop + 1;
		} else if (stop + 1 == n) {             /* an LF may open the */
			if (enc_put(&o, in + span, stop - span) < 0)
				return -1;              /* next chunk */
			enc->pending_cr = 1;
			i = span = n;
			break;
		} else if (in[stop + 1] == '\n') {      /* CRLF: as it is */
			i = stop + 2;
		} else {                                /* bare CR */
			if (enc_put(&o, in + span, stop + 1 - span) < 0
			    || enc_put(&o, "\n", 1) < 0)
				return -1;
			i = span = stop + 1;
		}
		enc->at_line_start = 1;
	}
	if (enc_put(&o, in + span, n - span) < 0)
		return -1;
	out->len = (size_t)(o.p - out->data);
	out->data[out->len] = '\0';
	return 0;
}

/* Undo a failed append so out and the state are as before the call. */
static void enc_restore(struct msg_enc *enc, const struct msg_enc *saved,
			struct buf *out, size_t len)
{
	*enc = *saved;
	if (out->data != NULL && out->len > len) {
		buf_wipe(out->data + len, out->len - len);
		out->len = len;
	}
	if (out->data != NULL)          /* enc_run may have written past it */
		out->data[out->len] = '\0';
	errno = E2BIG;
}

int msg_enc_feed(struct msg_enc *enc, const char *in, size_t n,
		 struct buf *out)
{
	struct msg_enc saved = *enc;
	size_t len = out->len;

	if (n == 0)
		return 0;
	enc->empty = 0;
	if (enc_run(enc, in, n, out) < 0) {
		enc_restore(enc, &saved, out, len);
		return -1;
	}
	return 0;
}

int msg_enc_finish(struct msg_enc *enc, struct buf *out)
{
	struct msg_enc saved = *enc;
	size_t len = out->len;
	int r = 0;

	if (enc->pending_cr) {
		r = buf_append(out, "\r\n", 2);
		enc->pending_cr = 0;
		enc->at_line_start = 1;
	}
	if (r == 0 && !enc->empty && !enc->at_line_start) {
		r = buf_append(out, "\r\n", 2);
		enc->at_line_start = 1;
	}
	if (r == 0 && !enc->plain)
		r = buf_append(out, ".\r\n", 3);
	if (r < 0) {
		enc_restore(enc, &saved, out, len);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------- BDAT */

/* Empty a buffer of message bytes for reuse.  They are no secret, so
 * unlike buf_reset this does not wipe them: a wipe per block was a
 * memset over the whole message. */
static void msg_buf_empty(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

int msg_bdat_start(struct msg_bdat *b, struct msg *m, struct err *e)
{
	memset(b, 0, sizeof *b);
	b->m = m;
	msg_enc_init_plain(&b->enc);
	/* a block encodes to at most twice its size, plus a CRLF held back
	 * from the previous block and the final CRLF */
	buf_init(&b->ahead, 2 * MSG_CHUNK + 8);
	b->raw = malloc(MSG_CHUNK);
	if (b->raw == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	return msg_stream_rewind(m, e);
}

/* Encode the next stream block into the (drained) look-ahead buffer;
 * at the end of the stream, finish the encoding instead. */
static int msg_bdat_fill(struct msg_bdat *b, struct err *e)
{
	ssize_t r;
	int fr;

	msg_buf_empty(&b->ahead);
	b->ahead_off = 0;
	r = msg_stream_read(b->m, b->raw, MSG_CHUNK, e);
	if (r < 0)
		return -1;
	if (r == 0) {
		b->finished = 1;
		fr = msg_enc_finish(&b->enc, &b->ahead);
	} else {
		fr = msg_enc_feed(&b->enc, b->raw, (size_t)r, &b->ahead);
	}
	if (fr < 0)
		return err_set(e, ERR_OSERR, "out of memory");
	return 0;
}

ssize_t msg_bdat_read(struct msg_bdat *b, char *dst, size_t n, int *last,
		      struct err *e)
{
	size_t got = 0, take;

	if (n > SSIZE_MAX)
		n = SSIZE_MAX;
	for (;;) {
		take = b->ahead.len - b->ahead_off;
		if (take > n - got)
			take = n - got;
		if (take > 0)
			memcpy(dst + got, b->ahead.data + b->ahead_off, take);
		got += take;
		b->ahead_off += take;
		if (got == n || (b->finished && b->ahead_off == b->ahead.len))
			break;
		if (msg_bdat_fill(b, e) < 0)
			return -1;
	}
	/* look ahead: is anything left after this chunk? */
	while (b->ahead_off == b->ahead.len && !b->finished)
		if (msg_bdat_fill(b, e) < 0)
			return -1;
	*last = b->ahead_off == b->ahead.len;
	return (ssize_t)got;
}

void msg_bdat_free(struct msg_bdat *b)
{
	buf_free(&b->ahead);
	free(b->raw);
	b->raw = NULL;
}
