/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * provider - what `msmtp --configure` knows without the network and what
 * it prints: the built-in provider presets (matched by the address's
 * domain or by the domain's MX host), the checks every value found on
 * the network must pass before it may be printed, and the account block
 * itself.
 *
 * Pure: no I/O but the stream given to provider_print().  A struct
 * provider_server only ever holds values that passed the checks here
 * (provider_host_ok, provider_value_ok, a port 1..65535), so nothing a
 * hostile DNS answer or autoconfig document says can reach the printed
 * block as anything but one harmless word of one line: no control
 * bytes, spaces, quotes, backslashes or '#'.
 */
#ifndef MSMTP_PROVIDER_H
#define MSMTP_PROVIDER_H

#include <stddef.h>
#include <stdio.h>

/* Longest host name (RFC 1035, without the final dot) and user name
 * accepted; longest address (RFC 5321 path limit). */
#define PROVIDER_HOST_MAX 253
#define PROVIDER_USER_MAX 254
#define PROVIDER_ADDR_MAX 254
#define PROVIDER_SOURCE_MAX 512

enum provider_auth {
	PROVIDER_AUTH_PASSWORD = 0,     /* the mailbox password */
	PROVIDER_AUTH_APP_PASSWORD,     /* an app password made at the provider */
	PROVIDER_AUTH_OAUTH2            /* OAuth2, or an app password */
};

struct provider_preset {
	const char *name;       /* "Gmail, Google Workspace" */
	const char *host;
	int port;
	int starttls;           /* 1 STARTTLS, 0 implicit TLS */
	enum provider_auth auth;
	const char *oauth2;     /* msmtp's oauth2_provider value or NULL */
	const char *domains;    /* space-separated; "yahoo.*" = any TLD */
	const char *mx;         /* space-separated MX host suffixes or NULL */
};

/* One submission server, ready to print. */
struct provider_server {
	char host[PROVIDER_HOST_MAX + 1];       /* checked, lower case */
	int port;                               /* 1..65535 */
	int starttls;                           /* 1 STARTTLS, 0 implicit TLS */
	int oauth2;                             /* the source offers OAuth2 */
	char user[PROVIDER_USER_MAX + 1];       /* "" = the address */
	char source[PROVIDER_SOURCE_MAX];       /* "found by" text */
	const struct provider_preset *preset;   /* the provider, if known */
};

/* The preset for an address's domain (ASCII, any case), or NULL. */
const struct provider_preset *provider_by_domain(const char *domain);
/* The preset for a domain whose MX host is `mx`, or NULL. */
const struct provider_preset *provider_by_mx(const char *mx);
/* The preset whose submission host is `host`, or NULL: a server found
 * on the network that is a known provider's gets its advice. */
const struct provider_preset *provider_by_host(const char *host);
/* Every preset in order, NULL-terminated (for tests and the man page). */
const struct provider_preset *const *provider_presets(void);

/* 1 if s[0..n) is a host name: dot-separated LDH labels of 1..63 bytes,
 * not starting or ending with '-', at most PROVIDER_HOST_MAX bytes, at
 * least two labels, not all digits (no address literal).  A final dot is
 * not part of it. */
int provider_host_ok(const char *s, size_t n);
/* 1 if s[0..n) may be printed as one msmtprc value: 1..max bytes, none
 * of them a control byte, space, '"', '\'', '\\' or '#' (bytes >= 0x80
 * are allowed: UTF-8 addresses). */
int provider_value_ok(const char *s, size_t n, size_t max);

/* Fill s from a preset; `why` says how it was chosen ("the address's
 * domain gmail.com").  0, or -1 when the text does not fit. */
int provider_from_preset(struct provider_server *s,
			 const struct provider_preset *p, const char *why);

/* The account block: '#' lines saying where the server came from and
 * what to do next, then `account NAME` and its settings.  `address` is
 * the address as given (for from and, when s->user is empty, user).
 * -1 when the stream fails. */
int provider_print(FILE *out, const struct provider_server *s,
		   const char *address, const char *account);

#endif
