/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz target: DNS answers to the SRV and MX queries of
 * `msmtp --configure` (discover_parse_answer: ns_initparse, ns_parserr
 * and dn_expand from libresolv; discover_pick).  No network: the answer
 * is the input.
 *
 * Input: a byte choosing SRV (even) or MX (odd) and the owner name
 * asked for (_submissions._tcp.example.org / example.org), then the DNS
 * message.  Invariants: at most the records asked for; a record is
 * either the root ("."), unusable, or a lower-case plain host name (an
 * SRV one with a port); the pick is -1 when a root is among them, else
 * a usable record of the lowest priority and the highest weight among
 * those, or -1 only when none is usable.
 */
#include "config.h"
#include "fuzzkit.h"

#include <arpa/nameser.h>
#include <string.h>

#include "discover.h"
#include "provider.h"

static void fdns_check_rr(const struct discover_rr *r, int type)
{
	size_t k;

	FUZZ_CHECK(!(r->root && r->bad));
	if (r->root || r->bad)
		return;
	FUZZ_CHECK(provider_host_ok(r->host, strlen(r->host)));
	for (k = 0; r->host[k]; k++)
		FUZZ_CHECK(r->host[k] < 'A' || r->host[k] > 'Z');
	if (type == ns_t_srv)
		FUZZ_CHECK(r->port >= 1 && r->port <= 65535);
	else
		FUZZ_CHECK(r->port == 0 && r->weight == 0);
	FUZZ_CHECK(r->prio >= 0 && r->prio <= 65535);
}

static void fdns_check_pick(const struct discover_rr *rr, size_t n, int i)
{
	size_t k;
	int root = 0, usable = 0;

	for (k = 0; k < n; k++) {
		root |= rr[k].root;
		usable |= !rr[k].bad && !rr[k].root;
	}
	if (root || !usable) {
		FUZZ_CHECK(i == -1);
		return;
	}
	FUZZ_CHECK(i >= 0 && (size_t)i < n && !rr[i].bad);
	for (k = 0; k < n; k++) {
		if (rr[k].bad)
			continue;
		FUZZ_CHECK(rr[k].prio >= rr[i].prio);
		if (rr[k].prio == rr[i].prio)
			FUZZ_CHECK(rr[k].weight <= rr[i].weight);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct discover_rr rr[DISCOVER_RR_MAX];
	struct fuzz_in in;
	size_t n = 0, k, max;
	int type, qn;
	const char *qname;

	fuzz_in_init(&in, data, size);
	qn = (int)fuzz_byte(&in);
	type = qn & 1 ? ns_t_mx : ns_t_srv;
	qname = qn & 1 ? "example.org" : "_submissions._tcp.example.org";
	max = 1 + (size_t)(qn >> 1) % DISCOVER_RR_MAX;
	if (discover_parse_answer(in.p, in.n, qname, type, rr, max, &n) < 0)
		return 0;
	FUZZ_CHECK(n <= max);
	for (k = 0; k < n; k++)
		fdns_check_rr(&rr[k], type);
	fdns_check_pick(rr, n, discover_pick(rr, n));
	return 0;
}
