/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * autoconfig - the SMTP server of an autoconfig document (Thunderbird's
 * "clientConfig" version 1.1, as served by a domain's autoconfig URLs and
 * by Mozilla's ISP database), parsed with expat.
 *
 * Pure: the document is bytes in memory (at most AUTOCONFIG_MAX of them;
 * the caller fetched them).  The document is untrusted: a DOCTYPE stops
 * the parse (so no DTD is read and no entity, internal or external, is
 * ever declared or expanded; expat itself never opens a file or the
 * network), and every value of the chosen server passes provider.h's
 * checks before it is returned.  Of the outgoingServer elements of type
 * "smtp", the first with socketType SSL (implicit TLS) wins, else the
 * first with STARTTLS; "plain" and anything else are never used.  The
 * username's placeholders %EMAILADDRESS%, %EMAILLOCALPART% and
 * %EMAILDOMAIN% become the parts of the address as given; in the
 * hostname, %EMAILDOMAIN% becomes the ASCII domain.
 */
#ifndef MSMTP_AUTOCONFIG_H
#define MSMTP_AUTOCONFIG_H

#include <stddef.h>
#include "err.h"
#include "provider.h"

/* Largest document read (a real one is 1 to 5 KiB). */
#define AUTOCONFIG_MAX (64 * 1024)

/* The address the placeholders stand for. */
struct autoconfig_addr {
	const char *address;    /* as given */
	const char *local;      /* its local part */
	const char *domain;     /* its domain as given */
	const char *domain_ascii; /* the domain in A-labels */
};

/* 0 with *out filled (host, port, starttls, oauth2, user; source and
 * preset left empty) when the document names a usable SMTP server.
 * Otherwise -1 and e says why in one printable line: ERR_PROTOCOL for a
 * document that is not well-formed, too large or has a DOCTYPE,
 * ERR_UNAVAILABLE when it names no usable server (none, plain only, or
 * every one refused for a bad value), ERR_OSERR when out of memory. */
int autoconfig_parse(const char *doc, size_t n,
		     const struct autoconfig_addr *who,
		     struct provider_server *out, struct err *e);

#endif
