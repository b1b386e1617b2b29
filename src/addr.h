/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * addr - RFC 5322 address lists and RFC 5321 mailbox checks.  Pure: no I/O
 * (libidn2 only computes A-labels).
 *
 * addr_parse_list() turns header or command-line text ("John <j@x>, k@y",
 * groups, comments, quoted strings, folded lines, encoded words in display
 * names) into bare addr-specs ("j@x", "k@y") suitable for MAIL FROM / RCPT TO.
 * Bare local names ("root") are kept as they are.  Errors say what is wrong
 * with which address and use ERR_DATAERR (header text) - the caller recodes to
 * ERR_USAGE for command-line words.
 */
#ifndef MSMTP_ADDR_H
#define MSMTP_ADDR_H

#include <stddef.h>
#include "err.h"

/* A limit on one address (RFC 5321 4.5.3.1.3 path: 256 octets). */
#define ADDR_MAX_LEN 256
/* A limit on how many recipients one message may have. */
#define ADDR_MAX_COUNT 100000

/* A list of distinct addresses in the order first seen.  Read v[0..n)
 * freely; change it only through the functions below, which keep a hash
 * index of it up to date, so that adding one address costs O(1) however
 * long the list is.  Moving the whole struct (*dst = *src, src then
 * forgotten) is fine. */
struct addr_list {
	char **v;       /* malloc'd NUL-terminated addr-specs */
	size_t n;
	size_t cap;
	size_t *slot;   /* private: the index, 1 + position in v, 0 = empty */
	size_t nslot;   /* private: 0 or a power of two above 2 * n */
};

void addr_list_init(struct addr_list *l);
void addr_list_free(struct addr_list *l);
/* Append a copy of `a` unless an equal address (local part compared
 * exactly, domain case-insensitively) is already there.  Returns 0 added or
 * already present, -1 on error. */
int addr_list_add_unique(struct addr_list *l, const char *a, struct err *e);
int addr_list_contains(const struct addr_list *l, const char *a);
/* For tests: how many index slots were probed so far in this process
 * (the work of duplicate detection; counted so that tests need no
 * clock). */
unsigned long long addr_probe_count(void);

/* Parse an RFC 5322 address-list (also accepts the obsolete forms real mail
 * uses: empty list elements, ";" after groups, unquoted dots in phrases).
 * Adds each addr-spec to `out` with addr_list_add_unique.  `len` bytes of
 * `text`; text may contain CRLF/LF folding.  Empty input adds nothing and
 * succeeds.  Returns 0, or -1 with `out` as it was before the call.  The
 * cost is linear in `len`, independent of how long `out` already is. */
int addr_parse_list(const char *text, size_t len, struct addr_list *out,
		    struct err *e);

/* 1 if s[0..len) contains CR, LF or NUL (header/command injection). */
int addr_has_crlfnul(const char *s, size_t len);

/* Check one envelope address for use inside <...> in MAIL/RCPT: no
 * control characters, no spaces outside quotes, no '<' '>', length limit,
 * well-formed UTF-8 (RFC 3629) when it has 8-bit bytes.  The empty string
 * is valid (null sender).  Returns 0 or -1 with ERR_DATAERR. */
int addr_check_envelope(const char *a, struct err *e);

/* 1 if the address contains any byte >= 0x80 (needs SMTPUTF8). */
int addr_is_8bit(const char *a);

/* Length of the well-formed UTF-8 sequence (RFC 3629) at s[0..n), 0 when
 * the byte at s starts none.  n must be at least 1. */
size_t addr_utf8_len(const unsigned char *s, size_t n);

/* The address with its domain converted to IDNA A-labels (libidn2,
 * IDN2_NONTRANSITIONAL as src/net.c uses), for a server without
 * SMTPUTF8.  0 and *out malloc'd (a plain copy when already ASCII);
 * -1 with ERR_DATAERR when the local part is not ASCII or the domain
 * is not a valid IDN (the message cannot go without SMTPUTF8), or
 * ERR_OSERR on ENOMEM.  Also ERR_DATAERR when the A-label form is longer
 * than ADDR_MAX_LEN.  *out is NULL on failure. */
int addr_to_ascii(const char *addr, char **out, struct err *e);

/* Encode a display name for a header: returned as-is (malloc'd) when it is
 * printable ASCII that needs no quoting, as a quoted-string when it has
 * specials, or as RFC 2047 encoded-words (=?utf-8?B?...?=) when it has
 * non-ASCII bytes.  NULL on ENOMEM. */
char *addr_encode_display_name(const char *name);

#endif
