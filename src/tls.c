/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "tls.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ext.h"
#include "log.h"
#include "tlscache.h"

/* How many of the peer's first bytes are kept (tls_peer_spoke_plain). */
#define TLS_FIRST_MAX 4
/* The largest plaintext of a record (RFC 8446 5.1), and the buffer where
 * tls_send gathers records for one socket write. */
#define TLS_RECORD_MAX (16 * 1024)
#define TLS_WQ_MAX (256 * 1024)
/* Without tls_priorities: GnuTLS's defaults, with the key exchange groups
 * of its NORMAL list in the same order but X25519 first.  The client
 * still offers two key shares (X25519 and P-256), and a server that takes
 * X25519 saves each side about 1 M instructions of P-256 arithmetic.  A
 * system policy (/etc/gnutls/config) still removes what it disables. */
#define TLS_GROUPS_X25519_FIRST "-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:" \
	"+GROUP-SECP384R1:+GROUP-SECP521R1:+GROUP-X448:+GROUP-FFDHE2048:" \
	"+GROUP-FFDHE3072:+GROUP-FFDHE4096:+GROUP-FFDHE6144:+GROUP-FFDHE8192"
/* The bundle GnuTLS's system trust reads on Debian and its kin: its
 * identity goes into the session cache key (tls_cache_key). */
#ifndef TLS_SYSTEM_BUNDLE
#define TLS_SYSTEM_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#endif

struct tls_state {
	gnutls_session_t session;
	gnutls_certificate_credentials_t cred;
	int handshake_done;
	int fd;
	unsigned char first[TLS_FIRST_MAX]; /* the peer's first bytes */
	size_t nfirst;
	char *cache_path;               /* session cache file, or NULL */
	unsigned char cache_key[TLSCACHE_KEY_LEN];
	int verified;                   /* the handshake passed tls_verify */
	int offered;                    /* a saved session was offered */
	time_t cache_expiry;            /* ... and the end of the verification
					   it rests on */
	time_t leaf_expiry;             /* full handshake: the end of the
					   server certificate's validity */
	char *wq;               /* records gathered by tls_push (tls_send) */
	size_t wq_len;
	int gather;             /* tls_push gathers into wq instead of sending */
};

static void tls_cache_save(struct tls_state *t);

static void tls_close(struct net_conn *c)
{
	struct tls_state *t = c->tls;

	if (t == NULL)
		return;
	tls_cache_save(t);
	if (t->handshake_done)
		gnutls_bye(t->session, GNUTLS_SHUT_WR);
	free(t->cache_path);
	gnutls_deinit(t->session);
	gnutls_certificate_free_credentials(t->cred);
	free(t->wq);
	free(t);
	c->tls = NULL;
}

static ssize_t tls_recv(struct net_conn *c, void *p, size_t n, struct err *e)
{
	struct tls_state *t = c->tls;
	ssize_t r;

	for (;;) {
		if (gnutls_record_check_pending(t->session) == 0
		    && net_wait(c, POLLIN, e) < 0)
			return -1;
		r = gnutls_record_recv(t->session, p, n);
		if (r >= 0)
			return r;
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			continue;
		if (r == GNUTLS_E_PREMATURE_TERMINATION)
			return 0;       /* the peer closed without close_notify */
		return err_set(e, ERR_TEMPFAIL, "TLS read error: %s",
			       gnutls_strerror((int)r));
	}
}

/* One record, as GnuTLS sends it (at most the 16 KiB maximum). */
static ssize_t tls_send_record(struct net_conn *c, const void *p, size_t n,
			       struct err *e)
{
	struct tls_state *t = c->tls;
	ssize_t r;

	for (;;) {
		r = gnutls_record_send(t->session, p, n);
		if (r >= 0)
			return r;
		if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED)
			return err_set(e, ERR_TEMPFAIL, "TLS write error: %s",
				       gnutls_strerror((int)r));
		if (net_wait(c, POLLOUT, e) < 0)
			return -1;
	}
}

/* Hand the gathered records to the socket, waiting (within the timeout)
 * while it is full. */
static int tls_wq_flush(struct net_conn *c, struct err *e)
{
	struct tls_state *t = c->tls;
	size_t off = 0;
	ssize_t r;
	int rc = 0;

	while (rc == 0 && off < t->wq_len) {
		r = send(t->fd, t->wq + off, t->wq_len - off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r >= 0)
			off += (size_t)r;
		else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			rc = err_set(e, ERR_TEMPFAIL, "TLS write error: %s",
				     strerror(errno));
		else if (errno != EINTR)
			rc = net_wait(c, POLLOUT, e);
	}
	t->wq_len = 0;
	return rc;
}

/* A large write (the message body) goes out as full records, gathered
 * by tls_push into one buffer and written with one send per TLS_WQ_MAX
 * bytes instead of one per record.  When the buffer is full, tls_push
 * says EAGAIN: GnuTLS keeps the record, the buffer is flushed and the
 * same call repeated, as the GnuTLS manual asks. */
static ssize_t tls_send(struct net_conn *c, const void *p, size_t n,
			struct err *e)
{
	struct tls_state *t = c->tls;
	const char *q = p;
	size_t off = 0;
	ssize_t r;

	if (n < 2 * TLS_RECORD_MAX
	    || (t->wq == NULL && (t->wq = malloc(TLS_WQ_MAX)) == NULL))
		return tls_send_record(c, p, n, e);
	t->gather = 1;
	while (off < n) {
		r = gnutls_record_send(t->session, q + off, n - off);
		if (r >= 0) {
			off += (size_t)r;
			continue;
		}
		if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED) {
			t->gather = 0;
			t->wq_len = 0;
			return err_set(e, ERR_TEMPFAIL, "TLS write error: %s",
				       gnutls_strerror((int)r));
		}
		if (tls_wq_flush(c, e) < 0) {
			t->gather = 0;
			return -1;
		}
	}
	t->gather = 0;
	if (tls_wq_flush(c, e) < 0)
		return -1;
	return (ssize_t)n;
}

static int tls_load_files(struct tls_state *t, const struct tls_params *p,
			  struct err *e)
{
	int r;

	if (p->trust_file == NULL) {
		r = gnutls_certificate_set_x509_system_trust(t->cred);
		if (r < 0)
			return err_set(e, ERR_NOINPUT,
				       "cannot load the system trust store: %s",
				       gnutls_strerror(r));
	} else if (*p->trust_file != '\0') {
		r = gnutls_certificate_set_x509_trust_file(t->cred, p->trust_file,
							   GNUTLS_X509_FMT_PEM);
		if (r <= 0)
			return err_set(e, ERR_NOINPUT,
				       "cannot use trust file %s: %s", p->trust_file,
				       r == 0 ? "no certificate in it"
				       : gnutls_strerror(r));
	}
	if (p->crl_file && *p->crl_file) {
		r = gnutls_certificate_set_x509_crl_file(t->cred, p->crl_file,
							 GNUTLS_X509_FMT_PEM);
		if (r < 0)
			return err_set(e, ERR_NOINPUT, "cannot use CRL file %s: %s",
				       p->crl_file, gnutls_strerror(r));
	}
	if (p->key_file && p->cert_file) {
		r = gnutls_certificate_set_x509_key_file(t->cred, p->cert_file,
							 p->key_file,
							 GNUTLS_X509_FMT_PEM);
		if (r < 0)
			return err_set(e, ERR_NOINPUT,
				       "cannot use client certificate %s / key %s: %s",
				       p->cert_file, p->key_file, gnutls_strerror(r));
	}
	return 0;
}

/* The transport: plain recv/send on the socket, through these so that
 * the first bytes the peer sent can be looked at after a failed
 * handshake (a plain-text server greets with "220"). */
static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *buf, size_t n)
{
	struct tls_state *t = ptr;
	ssize_t r = recv(t->fd, buf, n, 0);
	size_t k;

	if (r < 0) {
		gnutls_transport_set_errno(t->session, errno);
		return -1;
	}
	for (k = 0; k < (size_t)r && t->nfirst < TLS_FIRST_MAX; k++)
		t->first[t->nfirst++] = ((const unsigned char *)buf)[k];
	return r;
}

static ssize_t tls_push(gnutls_transport_ptr_t ptr, const void *buf,
			size_t n)
{
	struct tls_state *t = ptr;
	ssize_t r;

	if (t->gather) {                /* tls_send: gather, it flushes */
		if (n > TLS_WQ_MAX - t->wq_len) {
			gnutls_transport_set_errno(t->session, EAGAIN);
			return -1;
		}
		memcpy(t->wq + t->wq_len, buf, n);
		t->wq_len += n;
		return (ssize_t)n;
	}
	r = send(t->fd, buf, n, MSG_NOSIGNAL);

	if (r < 0)
		gnutls_transport_set_errno(t->session, errno);
	return r;
}

/* GnuTLS asks for this with a custom pull function (the manual: it must
 * be set for compatibility); our waits go through net_wait, so it is a
 * plain poll. */
static int tls_pull_timeout(gnutls_transport_ptr_t ptr, unsigned int ms)
{
	struct tls_state *t = ptr;
	struct pollfd pfd;
	int r;

	pfd.fd = t->fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	r = poll(&pfd, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
	if (r < 0)
		gnutls_transport_set_errno(t->session, errno);
	return r;
}

int tls_peer_spoke_plain(const struct net_conn *c)
{
	const struct tls_state *t = c->tls;

	return t != NULL && t->nfirst >= 4
		&& t->first[0] >= '2' && t->first[0] <= '5'
		&& t->first[1] >= '0' && t->first[1] <= '9'
		&& t->first[2] >= '0' && t->first[2] <= '9'
		&& (t->first[3] == ' ' || t->first[3] == '-');
}

static int tls_is_ip(const char *host)
{
	unsigned char b[16];

	return inet_pton(AF_INET, host, b) == 1 || inet_pton(AF_INET6, host, b) == 1;
}

static int tls_setup(struct tls_state *t, const struct tls_params *p,
		     int fd, struct err *e)
{
	const char *errpos = NULL;
	int r;

	if (gnutls_certificate_allocate_credentials(&t->cred) < 0
	    || gnutls_init(&t->session, GNUTLS_CLIENT) < 0)
		return err_set(e, ERR_OSERR, "cannot initialise TLS");
	if (tls_load_files(t, p, e) < 0)
		return -1;
	if (p->priorities && *p->priorities)
		r = gnutls_priority_set_direct(t->session, p->priorities, &errpos);
	else if (gnutls_set_default_priority_append(t->session,
						    TLS_GROUPS_X25519_FIRST,
						    &errpos, 0) < 0) {
		errpos = NULL;
		r = gnutls_set_default_priority(t->session);
	} else
		r = 0;
	if (r < 0)
		return err_set(e, ERR_CONFIG, "invalid tls_priorities '%s'%s%s: %s",
			       p->priorities ? p->priorities : "",
			       errpos ? " at " : "", errpos ? errpos : "",
			       gnutls_strerror(r));
	if (gnutls_credentials_set(t->session, GNUTLS_CRD_CERTIFICATE, t->cred) < 0)
		return err_set(e, ERR_OSERR, "cannot initialise TLS credentials");
	if (p->host && !tls_is_ip(p->host)
	    && gnutls_server_name_set(t->session, GNUTLS_NAME_DNS, p->host,
				      strlen(p->host)) < 0)
		return err_set(e, ERR_OSERR, "cannot set the TLS server name");
	t->fd = fd;
	gnutls_transport_set_ptr(t->session, t);
	gnutls_transport_set_pull_function(t->session, tls_pull);
	gnutls_transport_set_push_function(t->session, tls_push);
	gnutls_transport_set_pull_timeout_function(t->session,
						   tls_pull_timeout);
	return 0;
}

/* Handshake on the non-blocking socket, waiting in poll() so the
 * connection timeout bounds it. */
static int tls_handshake(struct net_conn *c, struct tls_state *t, struct err *e)
{
	int r;

	for (;;) {
		r = gnutls_handshake(t->session);
		if (r == GNUTLS_E_SUCCESS)
			return 0;
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
			if (net_wait(c, gnutls_record_get_direction(t->session)
				     ? POLLOUT : POLLIN, e) < 0) {
				err_prefix(e, "TLS handshake");
				return -1;
			}
			continue;
		}
		if (gnutls_error_is_fatal(r) == 0)
			continue;
		if (r == GNUTLS_E_PREMATURE_TERMINATION || r == GNUTLS_E_PUSH_ERROR
		    || r == GNUTLS_E_PULL_ERROR)
			return err_set(e, ERR_TEMPFAIL,
				       "TLS handshake failed: the connection was "
				       "lost (%s)", gnutls_strerror(r));
		return err_set(e, ERR_PROTOCOL,
			       "TLS handshake failed: %s (is this a TLS port?)",
			       gnutls_strerror(r));
	}
}

static int tls_leaf(gnutls_session_t s, gnutls_x509_crt_t *crt)
{
	const gnutls_datum_t *list;
	unsigned int n = 0;

	list = gnutls_certificate_get_peers(s, &n);
	if (list == NULL || n == 0 || gnutls_x509_crt_init(crt) < 0)
		return -1;
	if (gnutls_x509_crt_import(*crt, &list[0], GNUTLS_X509_FMT_DER) < 0) {
		gnutls_x509_crt_deinit(*crt);
		return -1;
	}
	return 0;
}

/* Colon-separated upper-case hex digest of the leaf certificate. */
static int tls_fingerprint(gnutls_x509_crt_t crt, gnutls_digest_algorithm_t alg,
			   char *out, size_t outlen)
{
	unsigned char d[64];
	size_t dl = sizeof d, i, o = 0;

	if (gnutls_x509_crt_get_fingerprint(crt, alg, d, &dl) < 0)
		return -1;
	for (i = 0; i < dl && o + 4 <= outlen; i++)
		o += (size_t)snprintf(out + o, outlen - o, "%s%02X", i ? ":" : "",
				      d[i]);
	return 0;
}

static void tls_time(time_t t, char *out, size_t n)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(out, n, "(unknown)");
}

/* The names a certificate is valid for, for the mismatch message. */
static void tls_cert_names(gnutls_x509_crt_t crt, char *out, size_t n)
{
	size_t o = 0;
	unsigned int i;

	out[0] = '\0';
	for (i = 0; o + 2 < n; i++) {
		char name[256];
		size_t nl = sizeof name - 1;
		int type = gnutls_x509_crt_get_subject_alt_name(crt, i, name, &nl, NULL);

		if (type < 0)
			break;
		if (type != GNUTLS_SAN_DNSNAME && type != GNUTLS_SAN_IPADDRESS)
			continue;
		if (type == GNUTLS_SAN_IPADDRESS) {
			char ip[64];
			if (!inet_ntop(nl == 4 ? AF_INET : AF_INET6, name, ip, sizeof ip))
				continue;
			o += (size_t)snprintf(out + o, n - o, "%s%s", o ? ", " : "", ip);
		} else {
			name[nl] = '\0';
			o += (size_t)snprintf(out + o, n - o, "%s%s", o ? ", " : "", name);
		}
	}
	if (o == 0) {
		size_t dl = n;
		if (gnutls_x509_crt_get_dn(crt, out, &dl) < 0)
			snprintf(out, n, "(no name)");
	}
}

/* Explain a failed chain/name/date check in plain words. */
static int tls_verify_error(gnutls_session_t s, gnutls_x509_crt_t crt,
			    unsigned int status, const char *host, struct err *e)
{
	char names[512], when[64];
	gnutls_datum_t out;

	if (status & GNUTLS_CERT_EXPIRED) {
		tls_time(gnutls_x509_crt_get_expiration_time(crt), when, sizeof when);
		return err_set(e, ERR_UNAVAILABLE,
			       "TLS certificate verification failed: the "
			       "certificate expired on %s", when);
	}
	if (status & GNUTLS_CERT_NOT_ACTIVATED) {
		tls_time(gnutls_x509_crt_get_activation_time(crt), when, sizeof when);
		return err_set(e, ERR_UNAVAILABLE,
			       "TLS certificate verification failed: the "
			       "certificate is not valid before %s", when);
	}
	if (status & GNUTLS_CERT_REVOKED)
		return err_set(e, ERR_UNAVAILABLE, "TLS certificate verification "
			       "failed: the certificate was revoked");
	if (status & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNER_NOT_CA)) {
		char issuer[512];
		size_t il = sizeof issuer;

		if (gnutls_x509_crt_get_issuer_dn(crt, issuer, &il) < 0)
			snprintf(issuer, sizeof issuer, "(unknown)");
		return err_set(e, ERR_UNAVAILABLE,
			       "TLS certificate verification failed: untrusted "
			       "issuer '%s'", issuer);
	}
	if (status & GNUTLS_CERT_UNEXPECTED_OWNER) {
		tls_cert_names(crt, names, sizeof names);
		return err_set(e, ERR_UNAVAILABLE,
			       "TLS certificate verification failed: the server "
			       "name '%s' does not match the certificate (valid "
			       "for: %s)", host, names);
	}
	if (gnutls_certificate_verification_status_print(status,
		gnutls_certificate_type_get(s), &out, 0) == 0) {
		err_set(e, ERR_UNAVAILABLE, "TLS certificate verification failed: %s",
			(const char *)out.data);
		gnutls_free(out.data);
		return -1;
	}
	return err_set(e, ERR_UNAVAILABLE, "TLS certificate verification failed");
}

static int tls_check_pin(gnutls_x509_crt_t crt, const char *pin, struct err *e)
{
	char seen[200];
	size_t hexlen = strlen(pin);
	gnutls_digest_algorithm_t alg = hexlen == 95 ? GNUTLS_DIG_SHA256
		: hexlen == 59 ? GNUTLS_DIG_SHA1 : GNUTLS_DIG_MD5;

	if (tls_fingerprint(crt, alg, seen, sizeof seen) < 0)
		return err_set(e, ERR_UNAVAILABLE, "cannot compute the server "
			       "certificate's fingerprint");
	if (strcasecmp(seen, pin) != 0)
		return err_set(e, ERR_UNAVAILABLE,
			       "TLS certificate fingerprint mismatch: expected %s, "
			       "the server presented %s", pin, seen);
	if (alg != GNUTLS_DIG_SHA256)
		log_warn("tls_fingerprint uses %s; use the SHA-256 fingerprint",
			 alg == GNUTLS_DIG_SHA1 ? "SHA-1" : "MD5");
	return 0;
}

static int tls_verify(struct tls_state *t, const struct tls_params *p,
		      struct err *e)
{
	gnutls_x509_crt_t crt;
	unsigned int status = 0;
	int pin_only = p->trust_file != NULL && *p->trust_file == '\0';
	int r = 0;

	if (!p->certcheck) {
		log_warn("tls_certcheck is off: the server's identity is not "
			 "verified and the connection can be intercepted");
		return 0;
	}
	if (t->offered && gnutls_session_is_resumed(t->session)) {
		char until[64];

		if (!log_debugging())   /* strftime reads the time zone */
			return 0;
		tls_time(t->cache_expiry, until, sizeof until);
		log_debug("TLS session resumed: the server holds the key of a "
			  "session whose certificate was verified in a full "
			  "handshake; that verification stands until %s", until);
		return 0;
	}
	if (tls_leaf(t->session, &crt) < 0)
		return err_set(e, ERR_UNAVAILABLE, "the server sent no certificate");
	t->leaf_expiry = gnutls_x509_crt_get_expiration_time(crt);
	if (pin_only && (p->fingerprint == NULL || *p->fingerprint == '\0')) {
		r = err_set(e, ERR_CONFIG, "tls_trust_file is empty and no "
			    "tls_fingerprint is set: nothing to verify the "
			    "server against");
	} else if (!pin_only) {
		if (gnutls_certificate_verify_peers3(t->session, p->host, &status) < 0)
			r = err_set(e, ERR_UNAVAILABLE,
				    "TLS certificate verification failed");
		else if (status != 0)
			r = tls_verify_error(t->session, crt, status, p->host, e);
	}
	if (r == 0 && p->fingerprint && *p->fingerprint)
		r = tls_check_pin(crt, p->fingerprint, e);
	gnutls_x509_crt_deinit(crt);
	return r;
}

/* ---- session resumption across runs (tlscache.h) ----------------------- */

/* One setting into the key: presence, length, bytes, so that NULL and ""
 * differ and neighbouring settings never run together. */
static void tls_key_field(gnutls_hash_hd_t h, const char *s)
{
	unsigned char head[5];
	size_t n = s ? strlen(s) : 0;

	head[0] = s != NULL;
	head[1] = (unsigned char)(n >> 24);
	head[2] = (unsigned char)(n >> 16);
	head[3] = (unsigned char)(n >> 8);
	head[4] = (unsigned char)n;
	gnutls_hash(h, head, sizeof head);
	if (n > 0)
		gnutls_hash(h, s, n);
}

/* A file's identity (device, inode, size, modification and change
 * times) into the key: a trust or CRL file edited or replaced gives
 * another key, so no session verified against the old content resumes. */
static void tls_key_file_id(gnutls_hash_hd_t h, const char *path)
{
	struct stat st;
	char id[200];

	if (path == NULL || *path == '\0' || stat(path, &st) < 0)
		snprintf(id, sizeof id, "-");
	else
		snprintf(id, sizeof id, "%ju %ju %jd %jd.%09ld %jd.%09ld",
			 (uintmax_t)st.st_dev, (uintmax_t)st.st_ino,
			 (intmax_t)st.st_size, (intmax_t)st.st_mtim.tv_sec,
			 st.st_mtim.tv_nsec, (intmax_t)st.st_ctim.tv_sec,
			 st.st_ctim.tv_nsec);
	tls_key_field(h, id);
}

/* What a saved session is valid for: the server, the name sent, and
 * every setting and file that decides whether its certificate is
 * accepted (a resumed session is not verified again: tls_verify). */
static int tls_cache_key(const struct tls_params *p, unsigned char *key)
{
	gnutls_hash_hd_t h;
	char num[32];

	if (gnutls_hash_get_len(GNUTLS_DIG_SHA256) != TLSCACHE_KEY_LEN
	    || gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
		return -1;
	snprintf(num, sizeof num, "%d %d", p->port, p->certcheck);
	tls_key_field(h, "msmtp tls session key 2");
	tls_key_field(h, p->cache_server);
	tls_key_field(h, p->host);
	tls_key_field(h, num);
	tls_key_field(h, p->host && !tls_is_ip(p->host) ? p->host : NULL);
	tls_key_field(h, p->trust_file);
	tls_key_field(h, p->crl_file);
	tls_key_field(h, p->fingerprint);
	tls_key_field(h, p->key_file);
	tls_key_field(h, p->cert_file);
	tls_key_field(h, p->priorities);
	tls_key_file_id(h, p->trust_file ? p->trust_file : TLS_SYSTEM_BUNDLE);
	tls_key_file_id(h, p->crl_file);
	gnutls_hash_deinit(h, key);
	return 0;
}

/* Before the handshake: offer the session saved for this account and
 * server when the file is sound and made for the same settings.  Only
 * with certificate checks on: nothing unverified is ever saved. */
static void tls_cache_offer(struct tls_state *t, const struct tls_params *p)
{
	enum tlscache_status st;
	unsigned char *data;
	size_t len;
	char *dir;

	if (!p->session_cache || !p->certcheck
	    || tls_cache_key(p, t->cache_key) < 0
	    || (dir = tlscache_dir()) == NULL)
		return;
	t->cache_path = tlscache_path(dir, p->cache_account, p->cache_server
				      ? p->cache_server : p->host, p->port);
	free(dir);
	if (t->cache_path == NULL)
		return;
	st = tlscache_load(t->cache_path, t->cache_key, time(NULL), &data, &len,
			   &t->cache_expiry);
	if (st != TLSCACHE_OK) {
		log_debug("TLS session cache %s: %s", t->cache_path,
			  tlscache_status_str(st));
		return;
	}
	if (gnutls_session_set_data(t->session, data, len) < 0)
		log_debug("TLS session cache %s: not accepted by GnuTLS",
			  t->cache_path);
	else {
		t->offered = 1;
		log_debug("TLS session cache %s: offering the saved session",
			  t->cache_path);
	}
	free(data);
}

/* How long a session saved now may be resumed without a new check of
 * the certificate: a resumed session inherits the end of the verification
 * it rests on; a full handshake's lasts TLSCACHE_MAX_AGE, never past the
 * certificate's own expiry. */
static time_t tls_cache_expiry(const struct tls_state *t, time_t now)
{
	time_t expiry;

	if (t->offered && gnutls_session_is_resumed(t->session))
		return t->cache_expiry;
	expiry = now + TLSCACHE_MAX_AGE;
	if (t->leaf_expiry > 0 && t->leaf_expiry < expiry)
		expiry = t->leaf_expiry;
	return expiry;
}

/* After a full handshake (at most every TLSCACHE_MAX_AGE per account and
 * server): remove the files of sessions that can never be resumed, such
 * as those of servers no longer used, which no save replaces. */
static void tls_cache_prune(time_t now)
{
	char *dir = tlscache_dir();
	int n;

	if (dir == NULL)
		return;
	n = tlscache_prune(dir, now);
	if (n > 0)
		log_debug("TLS session cache %s: removed %d stale file%s", dir,
			  n, n == 1 ? "" : "s");
	free(dir);
}

/* When the session ends: keep what the server gave for resuming, for
 * the next run.  Only after a verified handshake, and only new data: a
 * TLS 1.3 ticket (it arrives after the handshake, so not before now), or
 * a TLS 1.2 session that was not itself resumed. */
static void tls_cache_save(struct tls_state *t)
{
	time_t now = time(NULL), expiry;
	unsigned int flags;
	gnutls_datum_t d;
	int fresh;

	if (t->cache_path == NULL || !t->verified)
		return;
	expiry = tls_cache_expiry(t, now);
	flags = gnutls_session_get_flags(t->session);
	fresh = (flags & GNUTLS_SFLAGS_SESSION_TICKET) != 0
		|| (gnutls_protocol_get_version(t->session) != GNUTLS_TLS1_3
		    && !gnutls_session_is_resumed(t->session));
	if (!fresh || expiry <= now
	    || gnutls_session_get_data2(t->session, &d) < 0)
		return;
	if (tlscache_save(t->cache_path, t->cache_key, expiry, d.data,
			  d.size) < 0) {
		log_debug("TLS session cache %s: not saved: %s", t->cache_path,
			  strerror(errno));
	} else {
		log_debug("TLS session cache %s: saved", t->cache_path);
		if (!(t->offered && gnutls_session_is_resumed(t->session)))
			tls_cache_prune(now);
	}
	gnutls_free(d.data);
}

/* After the checks: say how the session began; after a failed check
 * the saved session (if any) is not offered again. */
static void tls_cache_after_verify(struct tls_state *t, int ok,
				   int certcheck)
{
	int resumed = gnutls_session_is_resumed(t->session) != 0;

	if (ok)
		log_debug("TLS session %s", resumed ? "resumed (no full "
			  "handshake)" : "established with a full handshake");
	else if (t->cache_path != NULL)
		tlscache_remove(t->cache_path);
	t->verified = ok && certcheck;
}

int tls_start(struct net_conn *c, const struct tls_params *p, struct err *e)
{
	struct tls_state *t = calloc(1, sizeof *t);
	struct tls_params q = *p;
	char *ascii = NULL;
	const char *why;
	int r;

	if (t == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	/* an ASCII name is used as it is, without a trip through libidn2 */
	if (p->host && ext_idn_to_ascii(p->host, &ascii, &why) == EXT_IDN_OK
	    && ascii != NULL)
		q.host = ascii;
	c->tls = t;
	c->close_fn = tls_close;
	r = tls_setup(t, &q, c->fd, e);
	if (r == 0)
		tls_cache_offer(t, &q);
	if (r == 0) {
		/* `timeout` bounds the whole handshake: a server sending a
		 * byte a second must not hold the client for minutes */
		net_deadline_start(c);
		r = tls_handshake(c, t, e);
		net_deadline_stop(c);
	}
	if (r == 0) {
		t->handshake_done = 1;
		r = tls_verify(t, &q, e);
		tls_cache_after_verify(t, r == 0, q.certcheck);
	}
	free(ascii);
	if (r < 0)
		return -1;
	c->recv_fn = tls_recv;
	c->send_fn = tls_send;
	return 0;
}

int tls_channel_binding(struct net_conn *c, int *exporter,
			unsigned char **data, size_t *len)
{
	struct tls_state *t = c->tls;
	gnutls_datum_t cb;
	gnutls_channel_binding_t type;

	if (t == NULL || !t->handshake_done)
		return 0;
	*exporter = gnutls_protocol_get_version(t->session) == GNUTLS_TLS1_3;
	type = *exporter ? GNUTLS_CB_TLS_EXPORTER : GNUTLS_CB_TLS_UNIQUE;
	if (gnutls_session_channel_binding(t->session, type, &cb) < 0)
		return 0;
	*data = malloc(cb.size ? cb.size : 1);
	if (*data == NULL) {
		gnutls_free(cb.data);
		return -1;
	}
	memcpy(*data, cb.data, cb.size);
	*len = cb.size;
	gnutls_free(cb.data);
	return 1;
}

int tls_describe(struct net_conn *c, struct buf *out)
{
	struct tls_state *t = c->tls;
	gnutls_x509_crt_t crt;
	char *desc, dn[512], fp[200], when[64];
	size_t dl;

	if (t == NULL || !t->handshake_done)
		return 0;
	desc = gnutls_session_get_desc(t->session);
	buf_printf(out, "TLS session parameters:\n    %s\n", desc ? desc : "?");
	gnutls_free(desc);
	if (tls_leaf(t->session, &crt) < 0)
		return 0;
	buf_printf(out, "TLS certificate information:\n");
	dl = sizeof dn;
	if (gnutls_x509_crt_get_dn(crt, dn, &dl) == 0)
		buf_printf(out, "    Subject: %s\n", dn);
	dl = sizeof dn;
	if (gnutls_x509_crt_get_issuer_dn(crt, dn, &dl) == 0)
		buf_printf(out, "    Issuer: %s\n", dn);
	tls_time(gnutls_x509_crt_get_activation_time(crt), when, sizeof when);
	buf_printf(out, "    Activation time: %s\n", when);
	tls_time(gnutls_x509_crt_get_expiration_time(crt), when, sizeof when);
	buf_printf(out, "    Expiration time: %s\n", when);
	if (tls_fingerprint(crt, GNUTLS_DIG_SHA256, fp, sizeof fp) == 0)
		buf_printf(out, "    SHA256 fingerprint: %s\n", fp);
	if (tls_fingerprint(crt, GNUTLS_DIG_SHA1, fp, sizeof fp) == 0)
		buf_printf(out, "    SHA1 fingerprint: %s\n", fp);
	gnutls_x509_crt_deinit(crt);
	return 0;
}
