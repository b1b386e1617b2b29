/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "provider.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/*
 * The presets, as published by the providers (doc/msmtp.1 lists them).
 * Implicit TLS where the provider offers it (RFC 8314 prefers it), else
 * STARTTLS on 587.  Order matters where domains overlap: the Zoho EU
 * entry comes before the general one.
 */
static const struct provider_preset provider_table[] = {
	{ "Gmail, Google Workspace", "smtp.gmail.com", 465, 0,
	  PROVIDER_AUTH_OAUTH2, "google", "gmail.com googlemail.com",
	  "google.com googlemail.com" },
	{ "Microsoft 365", "smtp.office365.com", 587, 1,
	  PROVIDER_AUTH_OAUTH2, "microsoft", "",
	  "mail.protection.outlook.com" },
	{ "Outlook.com", "smtp-mail.outlook.com", 587, 1,
	  PROVIDER_AUTH_OAUTH2, "microsoft", "outlook.com hotmail.* live.*",
	  NULL },
	{ "Yahoo", "smtp.mail.yahoo.com", 465, 0,
	  PROVIDER_AUTH_APP_PASSWORD, NULL, "yahoo.*", NULL },
	{ "iCloud", "smtp.mail.me.com", 587, 1,
	  PROVIDER_AUTH_APP_PASSWORD, NULL, "icloud.com me.com mac.com", NULL },
	{ "Fastmail", "smtp.fastmail.com", 465, 0,
	  PROVIDER_AUTH_APP_PASSWORD, NULL, "fastmail.com fastmail.fm", NULL },
	{ "GMX", "mail.gmx.net", 465, 0,
	  PROVIDER_AUTH_PASSWORD, NULL, "gmx.net gmx.de", NULL },
	{ "GMX", "mail.gmx.com", 465, 0,
	  PROVIDER_AUTH_PASSWORD, NULL, "gmx.com", NULL },
	{ "mailbox.org", "smtp.mailbox.org", 465, 0,
	  PROVIDER_AUTH_PASSWORD, NULL, "mailbox.org", NULL },
	{ "Zoho (EU)", "smtp.zoho.eu", 465, 0,
	  PROVIDER_AUTH_APP_PASSWORD, NULL, "zoho.eu zohomail.eu", NULL },
	{ "Zoho", "smtp.zoho.com", 465, 0,
	  PROVIDER_AUTH_APP_PASSWORD, NULL, "zoho.com zohomail.*", NULL },
};

#define PROVIDER_COUNT (sizeof provider_table / sizeof provider_table[0])

const struct provider_preset *const *provider_presets(void)
{
	static const struct provider_preset *list[PROVIDER_COUNT + 1];
	size_t k;

	for (k = 0; k < PROVIDER_COUNT; k++)
		list[k] = &provider_table[k];
	list[PROVIDER_COUNT] = NULL;
	return list;
}

/* One pattern against a domain: "name.tld" exactly, or "name.*" for
 * "name." followed by at least one more label. */
static int provider_pattern_match(const char *pat, size_t plen,
				  const char *domain)
{
	size_t dlen = strlen(domain);

	if (plen >= 2 && pat[plen - 1] == '*' && pat[plen - 2] == '.')
		return dlen > plen - 1 && strncasecmp(domain, pat, plen - 1) == 0
			&& domain[dlen - 1] != '.';
	return dlen == plen && strncasecmp(domain, pat, plen) == 0;
}

/* 1 if `host` is `suffix` or ends in "." + suffix (any case). */
static int provider_under(const char *suffix, size_t slen, const char *host)
{
	size_t hlen = strlen(host);

	if (hlen == slen)
		return strncasecmp(host, suffix, slen) == 0;
	return hlen > slen && host[hlen - slen - 1] == '.'
		&& strncasecmp(host + hlen - slen, suffix, slen) == 0;
}

/* 1 if one word of the space-separated `list` matches `name` by `match`
 * (called with the word, its length and the name). */
static int provider_any(const char *list, const char *name,
			int (*match)(const char *word, size_t n,
				     const char *name))
{
	const char *p = list;
	size_t n;

	while (p != NULL && *p != '\0') {
		n = strcspn(p, " ");
		if (n > 0 && match(p, n, name))
			return 1;
		p += n;
		while (*p == ' ')
			p++;
	}
	return 0;
}

const struct provider_preset *provider_by_domain(const char *domain)
{
	size_t k;

	for (k = 0; k < PROVIDER_COUNT; k++)
		if (provider_any(provider_table[k].domains, domain,
				 provider_pattern_match))
			return &provider_table[k];
	return NULL;
}

const struct provider_preset *provider_by_mx(const char *mx)
{
	size_t k;

	for (k = 0; k < PROVIDER_COUNT; k++)
		if (provider_table[k].mx != NULL
		    && provider_any(provider_table[k].mx, mx, provider_under))
			return &provider_table[k];
	return NULL;
}

const struct provider_preset *provider_by_host(const char *host)
{
	size_t k;

	for (k = 0; k < PROVIDER_COUNT; k++)
		if (strcasecmp(provider_table[k].host, host) == 0)
			return &provider_table[k];
	return NULL;
}

static int provider_is_ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		|| (c >= '0' && c <= '9') || c == '-';
}

/* One label s[0..n): 1..63 LDH bytes, no '-' at either end. */
static int provider_label_ok(const char *s, size_t n)
{
	size_t k;

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (k = 0; k < n; k++)
		if (!provider_is_ldh(s[k]))
			return 0;
	return 1;
}

int provider_host_ok(const char *s, size_t n)
{
	size_t start = 0, k, labels = 0;
	int digits_only = 1;

	if (n == 0 || n > PROVIDER_HOST_MAX)
		return 0;
	for (k = 0; k <= n; k++) {
		if (k < n && s[k] != '.') {
			if (s[k] < '0' || s[k] > '9')
				digits_only = 0;
			continue;
		}
		if (!provider_label_ok(s + start, k - start))
			return 0;
		labels++;
		start = k + 1;
	}
	return labels >= 2 && !digits_only;
}

int provider_value_ok(const char *s, size_t n, size_t max)
{
	size_t k;
	unsigned char c;

	if (n == 0 || n > max)
		return 0;
	for (k = 0; k < n; k++) {
		c = (unsigned char)s[k];
		if (c <= 0x20 || c == 0x7f || c == '"' || c == '\''
		    || c == '\\' || c == '#')
			return 0;
	}
	return 1;
}

int provider_from_preset(struct provider_server *s,
			 const struct provider_preset *p, const char *why)
{
	int n;

	memset(s, 0, sizeof *s);
	snprintf(s->host, sizeof s->host, "%s", p->host);
	s->port = p->port;
	s->starttls = p->starttls;
	s->oauth2 = p->auth == PROVIDER_AUTH_OAUTH2;
	s->preset = p;
	n = snprintf(s->source, sizeof s->source, "built-in preset %s (%s)",
		     p->name, why);
	return n > 0 && (size_t)n < sizeof s->source ? 0 : -1;
}

/* The '#' lines about the password or OAuth2: what to do before the
 * first send. */
static void provider_print_next_step(FILE *out, const struct provider_server *s,
				     const char *account)
{
	const struct provider_preset *p = s->preset;

	if (p != NULL && p->oauth2 != NULL) {
		fprintf(out, "# next step: %s signs in with OAuth2: register an "
			"OAuth2 client id\n#   (msmtp(1), OAUTH2), uncomment the "
			"two oauth2_ lines below, put the\n#   id in "
			"oauth2_client_id, then run: msmtp --oauth2-login -a "
			"%s\n", p->name, account);
		fprintf(out, "#   or: create an app password at the provider "
			"and put it in passwordeval/keyring\n");
		return;
	}
	if (s->oauth2)
		fprintf(out, "# the server offers OAuth2: see msmtp(1), OAUTH2 "
			"(oauth2_provider custom)\n");
	if (p != NULL && p->auth == PROVIDER_AUTH_APP_PASSWORD)
		fprintf(out, "# next step: create an app password at the "
			"provider and put it in passwordeval/keyring\n");
	else
		fprintf(out, "# next step: put the password in passwordeval or "
			"the keyring (see msmtp(1))\n");
}

int provider_print(FILE *out, const struct provider_server *s,
		   const char *address, const char *account)
{
	const struct provider_preset *p = s->preset;

	fprintf(out, "# msmtp --configure %s\n", address);
	fprintf(out, "# found by: %s\n", s->source);
	provider_print_next_step(out, s, account);
	fprintf(out, "account %s\n", account);
	fprintf(out, "host %s\n", s->host);
	fprintf(out, "port %d\n", s->port);
	fprintf(out, "tls on\n");
	fprintf(out, "tls_starttls %s\n", s->starttls ? "on" : "off");
	fprintf(out, "auth on\n");
	fprintf(out, "user %s\n", s->user[0] ? s->user : address);
	fprintf(out, "from %s\n", address);
	if (p != NULL && p->oauth2 != NULL) {
		fprintf(out, "#oauth2_provider %s\n", p->oauth2);
		fprintf(out, "#oauth2_client_id YOUR-CLIENT-ID\n");
	}
	return ferror(out) ? -1 : 0;
}
