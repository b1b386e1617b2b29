/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ext - the heavy libraries in a private module loaded on first use.
 *
 * GnuTLS, GNU SASL, libidn2, libcurl, json-c, expat, libresolv and
 * libsecret are linked only into private modules, never into the msmtp binary: a
 * run that needs none of them does not pay for loading, relocating and
 * initialising them.
 * msmtp-ext.so: TLS and IDN with GnuTLS and libidn2 (tls.c, tlscache.c,
 * ext_lib.c, table in ext_mod.c).  msmtp-sasl.so: authentication with
 * GNU SASL (sasl.c, table in ext_sasl.c), apart because GNU SASL and its
 * libraries (libidn, libntlm, libgssglue) cost a TLS run without
 * authentication about 0.5 ms and 30 page faults.  msmtp-http.so: OAuth2
 * and --configure with libcurl, json-c and expat (oauth.c, provider.c,
 * autoconfig.c, discover.c, table in ext_http.c), apart because libcurl's
 * own dependencies (Kerberos, LDAP, SSH, OpenSSL's libcrypto...) cost a
 * TLS send more than GnuTLS itself.  msmtp-json.so: the JSON lines of
 * mailq --json and logfile_format json with json-c (jsonl.c, table in
 * ext_json.c): loading json-c cost every plain send 0.13 ms and 8 page
 * faults.  msmtp-keyring.so, only in a build with libsecret: the keyring
 * password lookup (keyring.c, table in ext_keyring.c): libsecret brings
 * GLib, GIO, libgcrypt and a dozen more (+5 ms a plain send).
 * Each exports one table; it fills its own members, the rest are NULL.
 * In the binary, ext_load.c
 * defines the public functions of those modules (tls.h, sasl.h, oauth.h's
 * oauth_token/oauth_login/oauth_status, discover_configure) and of this
 * header as stubs that load the module on first use and call through the
 * table it returns; the unit tests and fuzz targets link the real
 * functions (libcore.a), so the stubs exist only in the binary.
 *
 * Which file: fixed at compile time.  The build tree's module when the
 * running binary (/proc/self/exe) is the build tree's msmtp (an
 * uninstalled test build), otherwise only the one in PKGLIBDIR.  The
 * file is opened without following a symbolic link; it must be a regular
 * file and, like its directory, owned by root or by the effective user,
 * not writable by others, and writable by its group only when that is
 * root's group or the effective group; the checked descriptor is what is
 * loaded (/proc/self/fd/N, RTLD_NOW | RTLD_LOCAL), and it stays open so
 * that no later module is loaded by the same name.  The module's table
 * must carry EXT_ABI, this header's table size, this package version and
 * the part asked for.
 * Any failure is ERR_UNAVAILABLE (69) "cannot load FILE: why", remembered:
 * later calls report it again without a second attempt.
 *
 * ASCII names never load the module: ext_idn_to_ascii() answers "no
 * conversion needed" itself.
 */
#ifndef MSMTP_EXT_H
#define MSMTP_EXT_H

#include <stddef.h>
#include <stdio.h>
#include "buf.h"
#include "conf.h"
#include "err.h"
#include "jsonl.h"
#include "net.h"
#include "sasl.h"
#include "secret.h"
#include "tls.h"

/* ext_idn_to_ascii() results */
enum { EXT_IDN_OK = 0, EXT_IDN_BAD = -1, EXT_IDN_NOMEM = -2, EXT_IDN_NOMODULE = -3 };

/* `in` (UTF-8) as A-labels (UTS #46 non-transitional, libidn2).  All
 * ASCII: EXT_IDN_OK with *out NULL (use `in` as it is).  Converted:
 * EXT_IDN_OK with *out malloc'd (free()).  Otherwise *out NULL and *why a
 * static reason: EXT_IDN_BAD (not a valid IDN), EXT_IDN_NOMEM, or
 * EXT_IDN_NOMODULE (the module could not be loaded; *why says why). */
int ext_idn_to_ascii(const char *in, char **out, const char **why);

/* The modules (struct ext_ops.part). */
enum ext_part {
	EXT_PART_TLS, EXT_PART_HTTP, EXT_PART_SASL, EXT_PART_JSON,
	EXT_PART_KEYRING, EXT_PARTS
};

/* The module's table: bump EXT_ABI whenever a member changes meaning. */
#define EXT_ABI 5
struct ext_ops {
	unsigned abi;
	unsigned part;          /* enum ext_part */
	size_t size;            /* sizeof(struct ext_ops) */
	const char *version;    /* PACKAGE_VERSION */
	/* msmtp-ext.so */
	int (*idn_to_ascii)(const char *, char **, const char **);
	int (*tls_start)(struct net_conn *, const struct tls_params *,
			 struct err *);
	int (*tls_peer_spoke_plain)(const struct net_conn *);
	int (*tls_describe)(struct net_conn *, struct buf *);
	int (*tls_channel_binding)(struct net_conn *, int *, unsigned char **,
				   size_t *);
	/* msmtp-sasl.so */
	int (*sasl_choose)(const char *, const char *, int, char *, size_t,
			   struct err *);
	struct sasl_session *(*sasl_start)(const char *,
					   const struct sasl_creds *,
					   struct err *);
	int (*sasl_initial)(struct sasl_session *, char **, struct err *);
	int (*sasl_step)(struct sasl_session *, const char *, char **,
			 struct err *);
	void (*sasl_free_response)(char *);
	void (*sasl_end)(struct sasl_session *);
	/* msmtp-http.so */
	int (*oauth_token)(const struct account *, int, struct secret **,
			   int *, struct err *);
	int (*oauth_login)(const struct account *, FILE *, struct err *);
	int (*oauth_status)(const struct account *, FILE *, struct err *);
	int (*discover_configure)(const char *, FILE *, struct err *);
	/* msmtp-json.so */
	struct json_object *(*jsonl_object_new)(void);
	struct json_object *(*jsonl_array_new)(void);
	void (*jsonl_free)(struct json_object *);
	int (*jsonl_array_add)(struct json_object *, struct json_object *);
	int (*jsonl_add)(struct json_object *, const char *,
			 struct json_object *);
	int (*jsonl_add_str)(struct json_object *, const char *, const char *);
	int (*jsonl_add_int)(struct json_object *, const char *, long long);
	int (*jsonl_add_bool)(struct json_object *, const char *, int);
	int (*jsonl_add_null)(struct json_object *, const char *);
	int (*jsonl_add_time)(struct json_object *, const char *, time_t);
	int (*jsonl_array_add_str)(struct json_object *, const char *);
	char *(*jsonl_line)(struct json_object *);
	/* msmtp-keyring.so */
	int (*keyring_lookup)(const char *, const char *, struct secret **);
};

/* The one symbol each module exports. */
#define EXT_SYMBOL "msmtp_ext_ops"
const struct ext_ops *msmtp_ext_ops(void);

/* Open the module file `path` (absolute) for loading: its directory and
 * then the file (no symbolic link followed), each checked as described
 * above.  The descriptor (O_CLOEXEC), or -1 with ERR_UNAVAILABLE
 * "cannot load PATH: why". */
int ext_open_module(const char *path, struct err *e);

/* Binary only (ext_load.c): the part's table, loading its module on the
 * first call; NULL with *e set (ERR_UNAVAILABLE) when it cannot be
 * loaded. */
const struct ext_ops *ext_load(enum ext_part part, struct err *e);

#endif
