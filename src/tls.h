/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * tls - GnuTLS client over a net_conn (STARTTLS and implicit TLS).
 *
 * tls_start() performs the handshake on an open connection within the
 * connection's timeout, verifies the server and, on success, swaps the
 * connection's recv/send functions for TLS record I/O.  Verification
 * (RFC 6125 name check through GnuTLS): chain to a trusted CA (the system
 * store unless tls_trust_file names a file), validity dates, the host name
 * (tls_host_override or the configured host, IDNs as A-labels), a stapled
 * OCSP response when present.  A pinned fingerprint is checked in addition
 * to the chain, or instead of it when the trust file is "" (trust no CA).
 * With certcheck off nothing is verified and a warning is printed.
 *
 * Errors: unusable trust/CRL/key files ERR_NOINPUT; bad priority string
 * ERR_CONFIG; certificate rejected ERR_UNAVAILABLE with the reason in plain
 * words; connection lost during the handshake ERR_TEMPFAIL; any other
 * handshake failure (e.g. implicit TLS to a plaintext port) ERR_PROTOCOL.
 * The session reads and writes the socket through this module's own
 * transport functions, which keep the first bytes the peer sent: a
 * handshake that met an SMTP greeting instead is recognised
 * (tls_peer_spoke_plain) for the caller's hint.
 *
 * Session resumption (session_cache on): before the handshake the
 * session saved for this account, host and port (tlscache.h) is offered
 * when its key - a SHA-256 digest of the server (host or socket) and port
 * connected to, the name verified and sent (SNI), and every
 * verification setting (trust and CRL file, fingerprint, certcheck,
 * client certificate and key, priorities) - matches; when the session
 * ends (the connection closes), a session ticket received on a verified
 * connection is saved, so the next run can resume (with certcheck off
 * the cache is neither read nor written).  A resumed session is
 * verified exactly like a full one: GnuTLS restores the server's
 * certificate chain from the saved session, and tls_start() checks it
 * against the current trust file, host name and fingerprint (a change of
 * these settings changes the key as well, so the session is not even
 * offered).  Cache problems are never errors: a bad file is ignored and
 * replaced, a failed save only costs the next run a full handshake.
 * --debug says whether the session was resumed.
 */
#ifndef MSMTP_TLS_H
#define MSMTP_TLS_H

#include "buf.h"
#include "err.h"
#include "net.h"

struct tls_params {
	const char *host;               /* name to verify and send as SNI */
	const char *trust_file;         /* NULL: system store; "": none */
	const char *crl_file;
	const char *fingerprint;        /* "AB:CD:..." SHA-256/SHA-1/MD5 or NULL */
	int certcheck;                  /* 0: verify nothing (warns) */
	const char *key_file;
	const char *cert_file;
	const char *priorities;         /* GnuTLS priority string or NULL */
	/* TLS session resumption across runs (tlscache.h): 0 = off */
	int session_cache;
	const char *cache_account;      /* account name for the cache file */
	const char *cache_server;       /* host (or socket) connected to */
	int port;                       /* server port: cache file and key */
};

int tls_start(struct net_conn *c, const struct tls_params *p, struct err *e);
/* After a failed tls_start(): 1 when the peer's first bytes were an SMTP
 * reply ("220 " or another code): it speaks plain text first, so TLS from
 * the first byte was the wrong choice. */
int tls_peer_spoke_plain(const struct net_conn *c);
/* Human-readable session and certificate summary (several lines) for
 * --debug and --serverinfo. */
int tls_describe(struct net_conn *c, struct buf *out);
/* Channel binding data for SCRAM-*-PLUS (RFC 5929 tls-unique below TLS
 * 1.3, RFC 9266 tls-exporter on 1.3): 1 with *exporter set and the bytes
 * malloc'd in *data, 0 when unavailable, -1 when out of memory (never
 * a silent fall back to a mechanism without the binding). */
int tls_channel_binding(struct net_conn *c, int *exporter,
			unsigned char **data, size_t *len);

#endif
