/* SPDX-License-Identifier: GPL-3.0-or-later */
/* --configure without the network: the presets and how they are matched,
 * the checks on values from DNS and documents, the address split (IDN),
 * the SRV/MX pick, and the autoconfig parser on hand-made documents. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoconfig.h"
#include "discover.h"
#include "provider.h"

static const char *preset_host(const char *domain)
{
	const struct provider_preset *p = provider_by_domain(domain);

	return p ? p->host : NULL;
}

static void test_presets_by_domain(void **state)
{
	(void)state;
	assert_string_equal(preset_host("gmail.com"), "smtp.gmail.com");
	assert_string_equal(preset_host("GoogleMail.COM"), "smtp.gmail.com");
	assert_string_equal(preset_host("hotmail.co.uk"), "smtp-mail.outlook.com");
	assert_string_equal(preset_host("live.de"), "smtp-mail.outlook.com");
	assert_string_equal(preset_host("yahoo.co.jp"), "smtp.mail.yahoo.com");
	assert_string_equal(preset_host("gmx.com"), "mail.gmx.com");
	assert_string_equal(preset_host("gmx.de"), "mail.gmx.net");
	assert_string_equal(preset_host("zohomail.eu"), "smtp.zoho.eu");
	assert_string_equal(preset_host("zohomail.in"), "smtp.zoho.com");
	assert_null(preset_host("yahoo."));
	assert_null(preset_host("yahoo"));
	assert_null(preset_host("notgmail.com"));
	assert_null(preset_host("gmail.com.evil.example"));
	assert_null(preset_host("example.org"));
}

static void test_presets_by_mx(void **state)
{
	const struct provider_preset *p;

	(void)state;
	p = provider_by_mx("aspmx.l.google.com");
	assert_non_null(p);
	assert_string_equal(p->oauth2, "google");
	p = provider_by_mx("contoso-com.mail.protection.outlook.com");
	assert_non_null(p);
	assert_string_equal(p->host, "smtp.office365.com");
	assert_null(provider_by_mx("evilgoogle.com"));
	assert_null(provider_by_mx("mail.protection.outlook.com.evil.example"));
	assert_non_null(provider_by_host("SMTP.gmail.com"));
}

static void test_host_and_value_checks(void **state)
{
	(void)state;
	assert_true(provider_host_ok("smtp.example.org", 16));
	assert_true(provider_host_ok("xn--bcher-kva.example", 21));
	assert_false(provider_host_ok("localhost", 9));
	assert_false(provider_host_ok("192.0.2.1", 9));
	assert_false(provider_host_ok("-a.example.org", 14));
	assert_false(provider_host_ok("a..example.org", 14));
	assert_false(provider_host_ok("a_b.example.org", 15));
	assert_false(provider_host_ok("a\n.example.org", 14));
	assert_false(provider_host_ok("", 0));
	assert_true(provider_value_ok("user@example.org", 16, 254));
	assert_false(provider_value_ok("a b", 3, 254));
	assert_false(provider_value_ok("a#b", 3, 254));
	assert_false(provider_value_ok("a\"b", 3, 254));
	assert_false(provider_value_ok("a\nb", 3, 254));
	assert_false(provider_value_ok("abc", 3, 2));
}

static void test_split(void **state)
{
	struct discover_addr a;
	struct err e;

	(void)state;
	err_init(&e);
	assert_int_equal(discover_split("Ann@B\xc3\xbc" "cher.Example", &a, &e), 0);
	assert_string_equal(a.local, "Ann");
	assert_string_equal(a.domain, "B\xc3\xbc" "cher.Example");
	assert_string_equal(a.ascii, "xn--bcher-kva.example");
	assert_int_equal(discover_split("o'brien@example.org.", &a, &e), 0);
	assert_string_equal(a.ascii, "example.org");
	err_init(&e);
	assert_int_equal(discover_split("a@localhost", &a, &e), -1);
	assert_int_equal(e.code, ERR_DATAERR);
	err_init(&e);
	assert_int_equal(discover_split("a b@example.org", &a, &e), -1);
	assert_int_equal(e.code, ERR_DATAERR);
}

static void test_pick(void **state)
{
	struct discover_rr rr[4];

	(void)state;
	memset(rr, 0, sizeof rr);
	rr[0].prio = 10; rr[0].weight = 1;
	rr[1].prio = 5; rr[1].bad = 1;
	rr[2].prio = 10; rr[2].weight = 9;
	rr[3].prio = 20;
	assert_int_equal(discover_pick(rr, 4), 2);
	rr[3].root = 1;
	assert_int_equal(discover_pick(rr, 4), -1);
	assert_int_equal(discover_pick(rr, 0), -1);
}

static const struct autoconfig_addr who = {
	"ann@example.org", "ann", "example.org", "example.org"
};

static int parse(const char *doc, struct provider_server *s, struct err *e)
{
	err_init(e);
	return autoconfig_parse(doc, strlen(doc), &who, s, e);
}

static void test_autoconfig(void **state)
{
	struct provider_server s;
	struct err e;

	(void)state;
	assert_int_equal(parse("<clientConfig><emailProvider>"
		"<outgoingServer type=\"smtp\"><hostname>a.example.org</hostname>"
		"<port>587</port><socketType>STARTTLS</socketType>"
		"</outgoingServer><outgoingServer type=\"smtp\">"
		"<hostname> SMTP.%EMAILDOMAIN%\n</hostname><port>465</port>"
		"<socketType>SSL</socketType><authentication>OAuth2"
		"</authentication><username>%EMAILLOCALPART%</username>"
		"</outgoingServer></emailProvider></clientConfig>", &s, &e), 0);
	assert_string_equal(s.host, "smtp.example.org");
	assert_int_equal(s.port, 465);
	assert_int_equal(s.starttls, 0);
	assert_int_equal(s.oauth2, 1);
	assert_string_equal(s.user, "ann");
	/* outside emailProvider: not a server */
	assert_int_equal(parse("<clientConfig><outgoingServer type=\"smtp\">"
		"<hostname>a.example.org</hostname><port>465</port>"
		"<socketType>SSL</socketType></outgoingServer></clientConfig>",
		&s, &e), -1);
	assert_int_equal(e.code, ERR_UNAVAILABLE);
	assert_int_equal(parse("<?xml version=\"1.0\"?><!DOCTYPE x []>"
		"<clientConfig/>", &s, &e), -1);
	assert_int_equal(e.code, ERR_PROTOCOL);
	assert_int_equal(parse("<clientConfig><emailProvider>"
		"<outgoingServer type=\"smtp\"><hostname>a.example.org</hostname>"
		"<port>0465x</port><socketType>SSL</socketType>"
		"</outgoingServer></emailProvider></clientConfig>", &s, &e), -1);
	assert_int_equal(e.code, ERR_UNAVAILABLE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_presets_by_domain),
		cmocka_unit_test(test_presets_by_mx),
		cmocka_unit_test(test_host_and_value_checks),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_autoconfig),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
