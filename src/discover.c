/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "discover.h"
#include "addr.h"
#include "autoconfig.h"
#include "buf.h"
#include "log.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <curl/curl.h>
#include <errno.h>
#include <idn2.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Room for a DNS answer (larger answers are cut to it and fail to
 * parse: an SRV or MX answer is a few hundred bytes). */
#define DISCOVER_DNS_BUF 8192
#define DISCOVER_HTTP_TIMEOUT 10L       /* seconds per request */
#define DISCOVER_CONNECT_TIMEOUT 5L
#define DISCOVER_URL_MAX 2048
#define DISCOVER_ISPDB "https://autoconfig.thunderbird.net/v1.1/"

/* One --configure run. */
struct discover_cx {
	const char *address;            /* as given */
	struct discover_addr a;
	int test_dns;                   /* MSMTP_TEST_DNS given */
	struct sockaddr_in dns;
	char connect_to[64];            /* MSMTP_TEST_HTTPS as CONNECT_TO */
	const char *test_ca;            /* MSMTP_TEST_CA */
	struct provider_server found;
};

/* ---- the address ---------------------------------------------------- */

/* RFC 5322 atext, without the specials; bytes >= 0x80 for UTF-8 local
 * parts (RFC 6531). */
static int discover_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	    || (c >= '0' && c <= '9') || c >= 0x80)
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* A dot-atom local part of 1..64 bytes, UTF-8 without C1 controls (it is
 * printed in the block and shown on a terminal). */
static const char *discover_local_problem(const char *s, size_t n)
{
	size_t k, step;

	if (n == 0)
		return "the local part is empty";
	if (n > 64)
		return "the local part is longer than 64 bytes";
	if (s[0] == '.' || s[n - 1] == '.')
		return "the local part starts or ends with a dot";
	for (k = 0; k < n; k += step) {
		const unsigned char *u = (const unsigned char *)s + k;

		step = addr_utf8_len(u, n - k);
		/* U+0080..U+009F: C1 controls, a terminal's escapes */
		if (step == 0 || (step == 2 && u[0] == 0xc2 && u[1] < 0xa0))
			return "the local part is not UTF-8 text";
		if (s[k] == '.' && s[k + 1] == '.')
			return "the local part has two dots in a row";
		if (s[k] != '.' && !discover_atext(u[0]))
			return "the local part has a character that needs "
			       "quoting";
	}
	return NULL;
}

static int discover_bad_addr(const char *address, const char *why,
			     struct err *e)
{
	char shown[BUF_SHOW_SIZE];

	return err_set(e, ERR_DATAERR, "invalid address '%s': %s",
		       buf_show(shown, sizeof shown, address, strlen(address)),
		       why);
}

/* The domain in A-labels, lower case, without a final dot. */
static int discover_ascii_domain(const char *address, struct discover_addr *a,
				 struct err *e)
{
	char *ace = NULL;
	size_t n, k;
	int rc;

	rc = idn2_to_ascii_8z(a->domain, &ace, IDN2_NONTRANSITIONAL);
	if (rc == IDN2_MALLOC)
		return err_set(e, ERR_OSERR, "out of memory");
	if (rc != IDN2_OK) {
		idn2_free(ace);
		return discover_bad_addr(address, idn2_strerror(rc), e);
	}
	n = strlen(ace);
	if (n > 0 && ace[n - 1] == '.')
		n--;
	if (!provider_host_ok(ace, n)) {
		idn2_free(ace);
		return discover_bad_addr(address, "the domain is not a host "
					 "name", e);
	}
	for (k = 0; k < n; k++)
		a->ascii[k] = (char)(ace[k] >= 'A' && ace[k] <= 'Z'
				     ? ace[k] - 'A' + 'a' : ace[k]);
	a->ascii[n] = '\0';
	idn2_free(ace);
	return 0;
}

int discover_split(const char *address, struct discover_addr *a,
		   struct err *e)
{
	const char *at = strchr(address, '@');
	const char *why;
	size_t n = strlen(address), k;

	memset(a, 0, sizeof *a);
	if (n == 0 || n > PROVIDER_ADDR_MAX)
		return discover_bad_addr(address, "empty or longer than 254 "
					 "bytes", e);
	if (at == NULL || strchr(at + 1, '@') != NULL)
		return discover_bad_addr(address, "it needs exactly one '@'", e);
	why = discover_local_problem(address, (size_t)(at - address));
	if (why != NULL)
		return discover_bad_addr(address, why, e);
	if (at[1] == '\0' || at[1] == '[')
		return discover_bad_addr(address, at[1] ? "a domain literal "
					 "has no servers to look up"
					 : "the domain is empty", e);
	for (k = 0; at[1 + k] != '\0'; k++)
		if ((unsigned char)at[1 + k] <= 0x20 || at[1 + k] == 0x7f)
			return discover_bad_addr(address, "the domain has a "
						 "space or control byte", e);
	memcpy(a->local, address, (size_t)(at - address));
	snprintf(a->domain, sizeof a->domain, "%s", at + 1);
	return discover_ascii_domain(address, a, e);
}

/* ---- test-only settings ---------------------------------------------- */

/* "A.B.C.D:PORT" into sa; -1 when it is not that. */
static int discover_parse_ipport(const char *v, struct sockaddr_in *sa)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strrchr(v, ':');
	char *end;
	long port;

	if (colon == NULL || (size_t)(colon - v) >= sizeof host)
		return -1;
	memcpy(host, v, (size_t)(colon - v));
	host[colon - v] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end != '\0' || end == colon + 1 || port < 1
	    || port > 65535)
		return -1;
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_port = htons((unsigned short)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

/* MSMTP_TEST_DNS, MSMTP_TEST_HTTPS and MSMTP_TEST_CA (tests only). */
static int discover_test_env(struct discover_cx *cx, struct err *e)
{
	const char *dns = getenv("MSMTP_TEST_DNS");
	const char *https = getenv("MSMTP_TEST_HTTPS");
	struct sockaddr_in sa;
	char ip[INET_ADDRSTRLEN];

	if (dns != NULL && *dns != '\0') {
		if (discover_parse_ipport(dns, &cx->dns) < 0)
			return err_set(e, ERR_USAGE, "MSMTP_TEST_DNS must be "
				       "IPV4:PORT");
		cx->test_dns = 1;
	}
	if (https != NULL && *https != '\0') {
		if (discover_parse_ipport(https, &sa) < 0
		    || inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof ip) == NULL)
			return err_set(e, ERR_USAGE, "MSMTP_TEST_HTTPS must be "
				       "IPV4:PORT");
		snprintf(cx->connect_to, sizeof cx->connect_to, "::%s:%u", ip,
			 (unsigned)ntohs(sa.sin_port));
		cx->test_ca = getenv("MSMTP_TEST_CA");
	}
	return 0;
}

/* ---- DNS ------------------------------------------------------------- */

/* The target of an SRV or MX record at rd[off..rdlen): a usable host
 * name into r->host, "." as r->root, anything else r->bad. */
static void discover_rr_target(const ns_msg *h, const unsigned char *rd,
			       size_t off, size_t rdlen, struct discover_rr *r)
{
	char name[NS_MAXDNAME];
	int used;
	size_t n, k;

	used = dn_expand(ns_msg_base(*h), ns_msg_end(*h), rd + off, name,
			 sizeof name);
	if (used < 0 || (size_t)used > rdlen - off) {
		r->bad = 1;
		return;
	}
	n = strlen(name);
	if (n == 0 || strcmp(name, ".") == 0) {
		r->root = 1;
		return;
	}
	if (name[n - 1] == '.')
		n--;
	if (!provider_host_ok(name, n)) {
		r->bad = 1;
		return;
	}
	for (k = 0; k < n; k++)
		r->host[k] = (char)(name[k] >= 'A' && name[k] <= 'Z'
				    ? name[k] - 'A' + 'a' : name[k]);
	r->host[n] = '\0';
}

/* One SRV (priority, weight, port, target) or MX (preference,
 * exchange) record. */
static void discover_rr_read(const ns_msg *h, const ns_rr *rr, int type,
			     struct discover_rr *r)
{
	const unsigned char *rd = ns_rr_rdata(*rr);
	size_t rdlen = ns_rr_rdlen(*rr);
	size_t fixed = type == ns_t_srv ? 6 : 2;

	memset(r, 0, sizeof *r);
	if (rdlen < fixed + 1) {
		r->bad = 1;
		return;
	}
	r->prio = ns_get16(rd);
	if (type == ns_t_srv) {
		r->weight = ns_get16(rd + 2);
		r->port = ns_get16(rd + 4);
	}
	discover_rr_target(h, rd, fixed, rdlen, r);
	if (type == ns_t_srv && r->port == 0 && !r->root)
		r->bad = 1;
}

int discover_parse_answer(const unsigned char *msg, size_t len,
			  const char *qname, int type,
			  struct discover_rr *out, size_t max, size_t *n)
{
	ns_msg h;
	ns_rr rr;
	int i, count;

	*n = 0;
	if (len > 65535 || ns_initparse(msg, (int)len, &h) < 0)
		return -1;
	count = ns_msg_count(h, ns_s_an);
	for (i = 0; i < count && *n < max; i++) {
		if (ns_parserr(&h, ns_s_an, i, &rr) < 0)
			return -1;
		if ((int)ns_rr_type(rr) != type || ns_rr_class(rr) != ns_c_in
		    || strcasecmp(ns_rr_name(rr), qname) != 0)
			continue;
		discover_rr_read(&h, &rr, type, &out[*n]);
		(*n)++;
	}
	return 0;
}

int discover_pick(const struct discover_rr *rr, size_t n)
{
	size_t k;
	int best = -1;

	for (k = 0; k < n; k++)
		if (rr[k].root)
			return -1;
	for (k = 0; k < n; k++) {
		if (rr[k].bad)
			continue;
		if (best < 0 || rr[k].prio < rr[best].prio
		    || (rr[k].prio == rr[best].prio
			&& rr[k].weight > rr[best].weight))
			best = (int)k;
	}
	return best;
}

/* The resolver, with the test name server when one is set. */
static int discover_res_open(const struct discover_cx *cx, res_state st)
{
	memset(st, 0, sizeof *st);
	if (res_ninit(st) != 0)
		return -1;
	if (cx->test_dns) {
		st->nscount = 1;
		st->nsaddr_list[0] = cx->dns;
	}
	return 0;
}

/* Query `name` for `type`; the usable records in rr (0 when there is no
 * answer, whatever the reason: --debug says which). */
static size_t discover_query(const struct discover_cx *cx, const char *name,
			     int type, struct discover_rr *rr)
{
	struct __res_state st;
	unsigned char ans[DISCOVER_DNS_BUF];
	size_t n = 0;
	int len;

	if (discover_res_open(cx, &st) < 0) {
		log_debug("--configure: cannot set up the DNS resolver");
		return 0;
	}
	len = res_nquery(&st, name, ns_c_in, type, ans, sizeof ans);
	if (len < 0)
		log_debug("--configure: DNS %s %s: no answer (%s)",
			  type == ns_t_srv ? "SRV" : "MX", name,
			  hstrerror(st.res_h_errno));
	else if (discover_parse_answer(ans, (size_t)len > sizeof ans
				       ? sizeof ans : (size_t)len, name, type,
				       rr, DISCOVER_RR_MAX, &n) < 0)
		log_warn("--configure: DNS %s %s: malformed answer ignored",
			 type == ns_t_srv ? "SRV" : "MX", name);
	res_nclose(&st);
	return n;
}

static int discover_has_root(const struct discover_rr *rr, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++)
		if (rr[k].root)
			return 1;
	return 0;
}

/* _submissions._tcp then _submission._tcp. */
static int discover_srv(struct discover_cx *cx)
{
	static const char *const prefix[] = { "_submissions._tcp.",
					      "_submission._tcp." };
	struct discover_rr rr[DISCOVER_RR_MAX];
	char name[PROVIDER_HOST_MAX + 32];
	size_t k, n;
	int i;

	for (k = 0; k < 2; k++) {
		snprintf(name, sizeof name, "%s%s", prefix[k], cx->a.ascii);
		n = discover_query(cx, name, ns_t_srv, rr);
		i = discover_pick(rr, n);
		if (i < 0) {
			if (n > 0)
				log_debug("--configure: SRV %s: %s", name,
					  discover_has_root(rr, n) ? "target "
					  "\".\": no service"
					  : "no usable target");
			continue;
		}
		snprintf(cx->found.host, sizeof cx->found.host, "%s",
			 rr[i].host);
		cx->found.port = rr[i].port;
		cx->found.starttls = k == 1;
		snprintf(cx->found.source, sizeof cx->found.source,
			 "DNS SRV %s", name);
		return 1;
	}
	return 0;
}

/* The MX host's provider (Google, Microsoft 365). */
static int discover_mx(struct discover_cx *cx)
{
	struct discover_rr rr[DISCOVER_RR_MAX];
	const struct provider_preset *p;
	char why[PROVIDER_HOST_MAX * 2 + 32];
	size_t n;
	int i;

	n = discover_query(cx, cx->a.ascii, ns_t_mx, rr);
	i = discover_pick(rr, n);
	if (i < 0)
		return 0;
	p = provider_by_mx(rr[i].host);
	if (p == NULL) {
		log_debug("--configure: MX %s: %s, not a known provider",
			  cx->a.ascii, rr[i].host);
		return 0;
	}
	snprintf(why, sizeof why, "MX %s of %s", rr[i].host, cx->a.ascii);
	return provider_from_preset(&cx->found, p, why) == 0;
}

/* ---- HTTPS ----------------------------------------------------------- */

struct discover_body {
	struct buf b;
	int write_errno;
};

static size_t discover_curl_write(char *p, size_t size, size_t n, void *ctx)
{
	struct discover_body *d = ctx;

	if (buf_append(&d->b, p, size * n) < 0) {
		d->write_errno = errno;
		return 0;
	}
	return size * n;
}

static int discover_curl_global(void)
{
	static int done;

	if (!done && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	done = 1;
	return 0;
}

static void discover_curl_options(const struct discover_cx *cx, CURL *c,
				  struct curl_slist *to,
				  struct discover_body *d)
{
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE, (long)AUTOCONFIG_MAX);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discover_curl_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, d);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, DISCOVER_HTTP_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, DISCOVER_CONNECT_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	if (to != NULL) {
		curl_easy_setopt(c, CURLOPT_CONNECT_TO, to);
		curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
		if (cx->test_ca != NULL) {
			curl_easy_setopt(c, CURLOPT_CAINFO, cx->test_ca);
			curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
		}
	}
}

/* How a failed request is told: an answer we refuse (certificate, size)
 * is a warning, a server that is not there only a --debug line. */
static void discover_http_failed(const char *url, CURLcode rc,
				 const struct discover_body *d)
{
	if (rc == CURLE_WRITE_ERROR && d->write_errno == E2BIG)
		rc = CURLE_FILESIZE_EXCEEDED;
	if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE
	    || rc == CURLE_SSL_ISSUER_ERROR || rc == CURLE_SSL_CONNECT_ERROR
	    || rc == CURLE_FILESIZE_EXCEEDED || rc == CURLE_UNSUPPORTED_PROTOCOL
	    || rc == CURLE_TOO_MANY_REDIRECTS)
		log_warn("--configure: %s not used: %s", url,
			 rc == CURLE_FILESIZE_EXCEEDED ? "the answer is larger "
			 "than 64 KiB" : curl_easy_strerror(rc));
	else
		log_debug("--configure: %s: %s", url, curl_easy_strerror(rc));
}

/* GET url over HTTPS; the body of a 200 answer into d.  1 got it, 0 not
 * (told), -1 out of memory. */
static int discover_get(const struct discover_cx *cx, const char *url,
			struct discover_body *d)
{
	struct curl_slist *to = NULL;
	long status = 0;
	CURLcode rc;
	CURL *c;

	buf_init(&d->b, AUTOCONFIG_MAX);
	d->write_errno = 0;
	if (discover_curl_global() < 0)
		return -1;
	if (cx->connect_to[0] != '\0'
	    && (to = curl_slist_append(NULL, cx->connect_to)) == NULL)
		return -1;
	c = curl_easy_init();
	if (c == NULL) {
		curl_slist_free_all(to);
		return -1;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	discover_curl_options(cx, c, to, d);
	log_debug("--configure: GET %s", url);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(to);
	if (rc == CURLE_WRITE_ERROR && d->write_errno == ENOMEM)
		return -1;
	if (rc != CURLE_OK) {
		discover_http_failed(url, rc, d);
		return 0;
	}
	if (status != 200) {
		log_debug("--configure: %s: HTTP status %ld", url, status);
		return 0;
	}
	return 1;
}

/* One autoconfig document: fetched, parsed, its server kept.  `shown` is
 * the URL as told (without the query). */
static int discover_document(struct discover_cx *cx, const char *url,
			     const char *shown, const char *what)
{
	struct autoconfig_addr who;
	struct discover_body d;
	struct err e;
	int rc;

	rc = discover_get(cx, url, &d);
	if (rc <= 0) {
		buf_free(&d.b);
		return rc;
	}
	who.address = cx->address;
	who.local = cx->a.local;
	who.domain = cx->a.domain;
	who.domain_ascii = cx->a.ascii;
	err_init(&e);
	rc = autoconfig_parse(buf_str(&d.b), d.b.len, &who, &cx->found, &e);
	buf_free(&d.b);
	if (rc < 0 && e.code == ERR_OSERR)
		return -1;
	if (rc < 0) {
		log_warn("--configure: %s not used: %s", shown, e.msg);
		return 0;
	}
	snprintf(cx->found.source, sizeof cx->found.source, "%s %s", what,
		 shown);
	return 1;
}

/* The domain's two autoconfig URLs, then the ISP database. */
static int discover_autoconfig(struct discover_cx *cx)
{
	char url[DISCOVER_URL_MAX], shown[DISCOVER_URL_MAX];
	/* the address as a query value (RFC 3986: all but unreserved
	 * percent-encoded); the curl handle argument is not needed */
	char *q = curl_easy_escape(NULL, cx->address, 0);
	int rc;

	snprintf(shown, sizeof shown, "https://autoconfig.%s/mail/"
		 "config-v1.1.xml", cx->a.ascii);
	snprintf(url, sizeof url, "https://autoconfig.%s/mail/config-v1.1.xml"
		 "?emailaddress=%s", cx->a.ascii, q != NULL ? q : "");
	curl_free(q);
	rc = discover_document(cx, url, shown, "autoconfig");
	if (rc != 0)
		return rc;
	snprintf(url, sizeof url, "https://%s/.well-known/autoconfig/mail/"
		 "config-v1.1.xml", cx->a.ascii);
	rc = discover_document(cx, url, url, "autoconfig");
	if (rc != 0)
		return rc;
	snprintf(url, sizeof url, DISCOVER_ISPDB "%s", cx->a.ascii);
	return discover_document(cx, url, url, "Mozilla ISP database");
}

/* ---- the run --------------------------------------------------------- */

static int discover_preset(struct discover_cx *cx)
{
	const struct provider_preset *p = provider_by_domain(cx->a.ascii);
	char why[PROVIDER_HOST_MAX + 32];

	if (p == NULL)
		return 0;
	snprintf(why, sizeof why, "the address's domain %s", cx->a.ascii);
	return provider_from_preset(&cx->found, p, why) == 0;
}

/* Each source in order until one answers: 1 found, 0 none, -1 out of
 * memory. */
static int discover_sources(struct discover_cx *cx)
{
	int rc;

	if ((rc = discover_srv(cx)) != 0)
		return rc;
	if ((rc = discover_autoconfig(cx)) != 0)
		return rc;
	if ((rc = discover_mx(cx)) != 0)
		return rc;
	return discover_preset(cx);
}

int discover_configure(const char *address, FILE *out, struct err *e)
{
	struct discover_cx cx;
	int rc;

	memset(&cx, 0, sizeof cx);
	cx.address = address;
	if (discover_split(address, &cx.a, e) < 0
	    || discover_test_env(&cx, e) < 0)
		return -1;
	rc = discover_sources(&cx);
	if (rc < 0)
		return err_set(e, ERR_OSERR, "out of memory");
	if (rc == 0)
		return err_set(e, ERR_UNAVAILABLE, "no submission server found "
			       "for %s (DNS SRV, autoconfig, ISP database, MX, "
			       "built-in presets): ask the provider for its SMTP "
			       "submission server", cx.a.ascii);
	if (cx.found.preset == NULL)
		cx.found.preset = provider_by_host(cx.found.host);
	if (provider_print(out, &cx.found, address, cx.a.ascii) < 0)
		return err_set(e, ERR_IOERR, "cannot write to standard output");
	return 0;
}
