/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * discover - `msmtp --configure ADDRESS`: find the submission server of
 * an address and print an account block for it (provider.h) on stdout.
 *
 * Sources, in order, the first that answers wins: DNS SRV
 * _submissions._tcp.DOMAIN (implicit TLS), then _submission._tcp.DOMAIN
 * (STARTTLS) (RFC 6186, RFC 8314); the domain's autoconfig document over
 * HTTPS (https://autoconfig.DOMAIN/mail/config-v1.1.xml?emailaddress=...,
 * then https://DOMAIN/.well-known/autoconfig/mail/config-v1.1.xml);
 * Mozilla's ISP database (https://autoconfig.thunderbird.net/v1.1/DOMAIN);
 * the provider of the domain's MX host; the built-in presets by the
 * address's domain.  Nothing is ever guessed (no "smtp.DOMAIN").
 *
 * DNS goes through the system resolver (res_nquery, answers read with
 * ns_initparse/ns_parserr), HTTPS through libcurl: certificates checked
 * against the system store, https only (redirects too), at most
 * AUTOCONFIG_MAX bytes, 5 s to connect and 10 s per request.  The domain
 * is looked up in its ASCII form (libidn2); the printed `from` is the
 * address as given.
 *
 * Test-only environment (doc/msmtp.1, ENVIRONMENT), read only here:
 * MSMTP_TEST_DNS=IPV4:PORT makes that the resolver's only name server;
 * MSMTP_TEST_HTTPS=IPV4:PORT connects every HTTPS request there (the URL,
 * SNI and certificate check stay those of the real name);
 * MSMTP_TEST_CA=FILE is then the only CA trusted.
 *
 * Errors: ERR_DATAERR for a malformed address, ERR_UNAVAILABLE when no
 * source answered, ERR_OSERR when out of memory, ERR_IOERR when stdout
 * fails.  Sources that answer with something unusable (an untrusted
 * certificate, a hostile document) are skipped with a warning on stderr;
 * --debug tells every step.
 */
#ifndef MSMTP_DISCOVER_H
#define MSMTP_DISCOVER_H

#include <stddef.h>
#include <stdio.h>
#include "err.h"
#include "provider.h"

/* Find the server for `address` and print its block on `out`. */
int discover_configure(const char *address, FILE *out, struct err *e);

/* One SRV or MX record of an answer. */
struct discover_rr {
	int prio;               /* SRV priority or MX preference */
	int weight;             /* SRV weight (0 for MX) */
	int port;               /* SRV port (0 for MX) */
	int root;               /* the target is "." (no service) */
	int bad;                /* the target is not a usable host name */
	char host[PROVIDER_HOST_MAX + 1]; /* the target, when usable */
};

#define DISCOVER_RR_MAX 32

/* The records of type `type` (ns_t_srv or ns_t_mx) owned by `qname` in
 * the DNS answer msg[0..len) (other records are skipped; at most `max`
 * are kept).  0 with *n set, or -1 when the message does not parse. */
int discover_parse_answer(const unsigned char *msg, size_t len,
			  const char *qname, int type,
			  struct discover_rr *out, size_t max, size_t *n);

/* The record to use: -1 when none is usable or one has the target "."
 * (RFC 2782: the service is not available); else the index of the lowest
 * priority, the highest weight among equals, the first among those. */
int discover_pick(const struct discover_rr *rr, size_t n);

/* The address split and checked: local part, domain as given, domain in
 * A-labels (lower case).  0, or -1 with ERR_DATAERR (ERR_OSERR). */
struct discover_addr {
	char local[PROVIDER_ADDR_MAX + 1];
	char domain[PROVIDER_ADDR_MAX + 1];
	char ascii[PROVIDER_HOST_MAX + 1];
};
int discover_split(const char *address, struct discover_addr *a,
		   struct err *e);

#endif
