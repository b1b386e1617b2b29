/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * aliases - envelope expansion of local recipients through an aliases file
 * (msmtp's `aliases` command and --aliases option).
 *
 * The file maps local names (recipients without '@') to RFC 5322 address
 * lists, one `name: addr[, addr...]` per line; `#` lines and blank lines are
 * ignored and a `default:` entry catches every local name without an entry
 * of its own.  Only the envelope recipient list is changed; headers are never
 * touched.  Expansion is recursive with cycle protection (a name already on
 * the expansion path stays as it is) and a depth limit.
 *
 * Errors are ERR_CONFIG: "FILE:LINE: ..." for a malformed line,
 * "cannot read FILE: reason" when the file cannot be opened or read,
 * "FILE: alias expansion too deep for NAME" and
 * "FILE: alias expansion of NAME yields too many addresses" for runaway
 * expansions.  ERR_OSERR on ENOMEM.  On error `rcpts` is left unchanged.
 */
#ifndef MSMTP_ALIASES_H
#define MSMTP_ALIASES_H

#include "addr.h"
#include "err.h"

/* Longest line of an aliases file, excluding its line end. */
#define ALIASES_LINE_MAX 65536
/* How many alias lookups one chain may take before it is a config error. */
#define ALIASES_DEPTH_MAX 16
/* How many expansion steps one call may take in all (guards against an
 * exponential fan-out hidden in the file). */
#define ALIASES_STEPS_MAX 100000

/* Replace every recipient in `rcpts` that has no '@' by its expansion from
 * the aliases file at `path`, recursively.  The file is read only if some
 * recipient is local.  Returns 0 or -1 (ERR_CONFIG "FILE:LINE: ...", or
 * "cannot read FILE: reason" as ERR_CONFIG).  A NULL or empty `path` means
 * no aliases file: nothing changes and 0 is returned. */
int aliases_expand(const char *path, struct addr_list *rcpts, struct err *e);

#endif
