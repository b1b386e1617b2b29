/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * oauth_store - where an account's OAuth2 tokens are kept between runs.
 *
 * One store per account: a JSON file, or one keyring item (libsecret).
 * The file is
 *     {"version":1,"account":NAME,"access_token":"...",
 *      "refresh_token":"...","expires_at":N}
 * (a token that is absent is left out; unknown keys are ignored on
 * loading).  By default it is $XDG_STATE_HOME/msmtp/oauth2/NAME.json
 * ($HOME/.local/state/... when XDG_STATE_HOME is unset, empty or
 * relative; the passwd entry's home when HOME is unset), NAME the account
 * name made file-safe (oauth_store_file_name).  The keyring item (schema
 * "org.msmtp.OAuth2", attribute account=NAME) holds the same JSON text.
 *
 * Safety: loading refuses (ERR_CONFIG, naming the fix) a symbolic link,
 * anything but a regular file, a file that is not the effective user's or
 * that group or others may read or write, and a directory that group or
 * others may write.  Saving writes a fresh temporary file (O_EXCL, never
 * through a planted link) in the same directory, 0600, fsync'ed, renamed
 * over the old file, then syncs the directory: a crash leaves the old or
 * the new tokens, never a mix.  Directories it creates are 0700.
 *
 * Secrets: tokens are handed out in `struct secret` (wiped on free), and
 * the JSON text this module reads or writes is held in buffers it wipes.
 * Loading parses with json-c, whose own copies of the strings (its
 * tokenizer buffer and string objects) are freed without being wiped;
 * saving writes the JSON itself, so no json-c copy exists then.  For the
 * keyring, libsecret and the secret service hold copies too.
 *
 * Locking: a refresh must happen once even when several msmtp run at the
 * same time (a provider that rotates refresh tokens invalidates the old
 * one).  The caller locks, reloads, refreshes only if still needed,
 * saves, unlocks.  The lock is flock(2) on a separate file that is never
 * removed: NAME.json.lock next to the file store (PATH.lock for a chosen
 * path), NAME.keyring.lock in the default directory for the keyring.  The
 * descriptor is close-on-exec, so commands we run do not inherit it.
 *
 * Nothing here prints; errors are values (err.h).
 */
#ifndef MSMTP_OAUTH_STORE_H
#define MSMTP_OAUTH_STORE_H

#include <stddef.h>
#include "conf.h"
#include "err.h"
#include "secret.h"

/* Longest file-safe account name (bytes, without ".json"): room is left
 * for the suffixes of the temporary and lock files within NAME_MAX. */
#define OAUTH_STORE_NAME_MAX 200
/* Largest store file or keyring text accepted (JSON may escape bytes). */
#define OAUTH_STORE_TEXT_MAX (1024 * 1024)

struct oauth_tokens {
	struct secret *access;          /* NULL when none */
	struct secret *refresh;         /* NULL when none */
	long long expires_at;           /* access token expiry, Unix time; 0 unknown */
};

struct oauth_store;

/* Where the account's tokens live: oauth2_token_store, or by default
 * $XDG_STATE_HOME/msmtp/oauth2/NAME.json ($HOME/.local/state/... when
 * XDG_STATE_HOME is unset or relative), NAME the account name made
 * file-safe; "keyring": libsecret (ERR_CONFIG in a build without it).
 * Nothing is created here.  ERR_CONFIG when no home directory is known or
 * the name is too long for a file name; ERR_OSERR when out of memory. */
int oauth_store_open(const struct account *a, struct oauth_store **out,
		     struct err *e);
/* Unlocks when locked, then frees.  NULL is allowed. */
void oauth_store_close(struct oauth_store *st);
/* "the file /path" or "the keyring", for messages. */
const char *oauth_store_where(const struct oauth_store *st);

/* 1 tokens loaded, 0 nothing stored yet (no file, no directory, no
 * keyring item), -1 error: damaged content, unsafe ownership or
 * permissions, a link (ERR_CONFIG, naming the store and what to do);
 * unreadable, or the keyring cannot be reached (ERR_IOERR).  *t must be
 * zeroed or hold tokens: it is cleared first, and stays cleared unless 1
 * is returned.  A file written for another account is refused
 * (ERR_CONFIG). */
int oauth_store_load(struct oauth_store *st, struct oauth_tokens *t,
		     struct err *e);

/* Replace what is stored, atomically; the directory is created 0700
 * (parents too), the file 0600 (written to a temporary file in the same
 * directory, fsync'ed, renamed over the old one, directory fsync'ed).
 * ERR_CANTCREAT when the directory cannot be created or is not private;
 * ERR_IOERR when writing fails or the keyring cannot be reached;
 * ERR_SOFTWARE for tokens this module would refuse to load (empty, longer
 * than SECRET_MAX, bytes outside printable ASCII, negative expires_at).
 * Either token may be NULL (it is then left out). */
int oauth_store_save(struct oauth_store *st, const struct oauth_tokens *t,
		     struct err *e);

/* Exclusive lock on a separate lock file next to the store (NAME.json.lock;
 * for the keyring NAME.keyring.lock in the default directory, created
 * 0700 when missing), waiting at most timeout_s seconds (<= 0: one try),
 * then ERR_TEMPFAIL "another msmtp is refreshing ...".  ERR_CANTCREAT when
 * the lock file cannot be created.  Locking a store that is already
 * locked through this handle is a no-op. */
int oauth_store_lock(struct oauth_store *st, int timeout_s, struct err *e);
void oauth_store_unlock(struct oauth_store *st);

/* Frees (wipes) both secrets and zeroes *t. */
void oauth_tokens_clear(struct oauth_tokens *t);

/* The account name made file-safe: [A-Za-z0-9._-] kept except a leading
 * dot, every other byte as %XX (upper-case hex), so distinct names give
 * distinct results and none contains "/" or is "." or "..".  Writes at
 * most outlen bytes with the NUL; -1 when the name is empty or the result
 * would exceed OAUTH_STORE_NAME_MAX or outlen - 1.  (Exposed for tests.) */
int oauth_store_file_name(const char *name, char *out, size_t outlen);

#endif
