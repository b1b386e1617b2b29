/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * tlscache - the TLS session cache file of one account and server, so a
 * run after a run can resume the TLS session instead of a full handshake.
 *
 * One file per account, host and port in $XDG_CACHE_HOME/msmtp/ (an
 * absolute XDG_CACHE_HOME only; else $HOME/.cache/msmtp/), named
 * "tls-ACCOUNT-HOST-PORT-HASH" (the names with every byte outside
 * [A-Za-z0-9._] as '_', the hash telling apart names that map alike).
 * The file holds the session data GnuTLS gave (opaque here), the key it is
 * valid for (a digest of the host, port, server name and verification
 * settings, made by the caller) and an expiry time: the end of the
 * verification it rests on (the caller keeps it across resumed sessions,
 * so it counts from the last full, verified handshake).  Layout:
 *   "MSMTP-TLS-SESSION 3\n"  (TLSCACHE_MAGIC)
 *   8 bytes expiry (seconds since the epoch, big-endian)
 *   TLSCACHE_KEY_LEN bytes key
 *   4 bytes data length (big-endian)
 *   8 bytes check: FNV-1a 64 of the expiry, key, length and data
 *   (big-endian), then exactly `length` data bytes.
 * The check catches a file damaged on disk or cut by a failed rewrite:
 * GnuTLS 3.7 dereferences NULL in the handshake on some damaged session
 * data, so such a file must never reach it (it counts as malformed).
 *
 * Trust: the directories are made 0700 and used only when owned by the
 * effective user and not writable by group or others; a directory is
 * created only inside one owned by the effective user (root with another
 * user's HOME never writes there).  A file is used only when it is a
 * regular file (not a symbolic link), owned by the effective user, with
 * no group or other permission bits, of a size within bounds, well
 * formed, for the same key and not expired (an expiry further than
 * TLSCACHE_MAX_AGE ahead counts as malformed).  A file that fails any of
 * this is ignored (and replaced by the next save), never an error of the
 * run.  Saving rewrites a file that passes those checks in place under an
 * exclusive flock (readers hold a shared one while they read), else writes
 * a temporary file (0600) and renames it over the old one: readers see
 * the old bytes or the new, never a part.  No run ever waits for a lock:
 * a reader that finds the file locked does a full handshake
 * (TLSCACHE_BUSY), a writer that finds it locked writes a new file.  (In place because a rename
 * that replaces a file costs ext4 a forced write-out: 0.6-2 ms a run.)
 * No fsync: a cache lost in a crash costs one full handshake.
 */
#ifndef MSMTP_TLSCACHE_H
#define MSMTP_TLSCACHE_H

#include <stddef.h>
#include <time.h>

#define TLSCACHE_MAGIC "MSMTP-TLS-SESSION 3\n"
#define TLSCACHE_MAGIC_LEN (sizeof TLSCACHE_MAGIC - 1)
#define TLSCACHE_KEY_LEN 32
#define TLSCACHE_HEADER_LEN (TLSCACHE_MAGIC_LEN + 8 + TLSCACHE_KEY_LEN + 4 + 8)
/* Session data bigger than this is not kept (it holds the server's
 * certificate chain: a few KB in practice). */
#define TLSCACHE_DATA_MAX (64 * 1024)
/* The longest a verification is relied on, whatever the server allows
 * for its tickets: a full handshake with the certificate checked again
 * at least this often. */
#define TLSCACHE_MAX_AGE (8 * 3600)

/* Why a file was not used (tlscache_load, tlscache_parse). */
enum tlscache_status {
	TLSCACHE_OK = 0,
	TLSCACHE_MISSING,       /* no such file */
	TLSCACHE_UNSAFE,        /* not a regular file, a link, not ours,
				   group/other bits, or an unsafe directory */
	TLSCACHE_SIZE,          /* too small or too big */
	TLSCACHE_MALFORMED,     /* wrong magic, length or expiry */
	TLSCACHE_OTHER_KEY,     /* made for other settings */
	TLSCACHE_EXPIRED,
	TLSCACHE_BUSY,          /* another run holds it (being rewritten) */
	TLSCACHE_ERROR          /* cannot read, or out of memory */
};

/* The cache directory (malloc'd), whether or not it exists yet; NULL
 * when there is no absolute XDG_CACHE_HOME or HOME, or out of memory. */
char *tlscache_dir(void);
/* The file for an account (NULL: "default") and server in `dir`
 * (malloc'd; NULL when out of memory). */
char *tlscache_path(const char *dir, const char *account, const char *host,
		    int port);

/* Check a cache file's bytes against `key` at time `now`; on TLSCACHE_OK
 * *data points into `p` (not copied), *len is its length and *expiry
 * (when not NULL) the file's expiry. */
enum tlscache_status tlscache_parse(const unsigned char *p, size_t n,
				    const unsigned char *key, time_t now,
				    const unsigned char **data, size_t *len,
				    time_t *expiry);
/* Read and check `path` (and its directory); on TLSCACHE_OK *data is
 * malloc'd (the caller frees it), *len its length and *expiry (when not
 * NULL) the file's expiry. */
enum tlscache_status tlscache_load(const char *path, const unsigned char *key,
				   time_t now, unsigned char **data,
				   size_t *len, time_t *expiry);
/* Write the file atomically, making the directories it needs (see
 * above).  0, or -1 with errno set; never leaves a temporary file. */
int tlscache_save(const char *path, const unsigned char *key, time_t expiry,
		  const unsigned char *data, size_t len);
/* Remove the file `path` (a saved session a failed check refused) when
 * its directory is one to trust, as for reading: ours and writable by
 * nobody else, not a link.  0, or -1 with errno set (EPERM: a directory
 * not to act in - root running with a user's HOME never removes a file
 * there). */
int tlscache_remove(const char *path);

/* Remove the stale files of `dir`: those named "tls-*" that are private
 * regular files of ours starting with "MSMTP-TLS-SESSION " and are
 * expired, damaged or of another format version (the files of servers or
 * accounts no longer used, which no save replaces).  A file another run
 * holds locked is left alone; anything else (other names, links, other
 * owners or modes, other content) is never touched.  At most
 * TLSCACHE_PRUNE_MAX entries are looked at.  The number removed, or -1
 * when the directory is missing or not one to trust. */
int tlscache_prune(const char *dir, time_t now);
#define TLSCACHE_PRUNE_MAX 256

/* Short words for --debug ("not a private regular file", ...). */
const char *tlscache_status_str(enum tlscache_status st);

#endif
