/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * net - connections: name resolution, connect with timeouts, timed I/O.
 *
 * Every address of a host is tried in turn (IPv6 and IPv4 in resolver
 * order, or one family only: net_target.family); `timeout` bounds the
 * whole connect step - all the addresses together, each attempt getting
 * what is left, so a name with many dead addresses costs one timeout, not
 * one per address - and every single read or write, and, between
 * net_deadline_start() and net_deadline_stop(), all the waits together
 * (the reading of one whole reply: a server sending a byte a second
 * cannot hold the client for days).  International host names are
 * converted to A-labels (libidn2).
 * Errors: unknown host (or none of the family asked for) ERR_NOHOST; DNS
 * "try again", refused, unreachable, reset and timeouts ERR_TEMPFAIL; no
 * socket ERR_OSERR.
 *
 * Transport seam: a connection reads and writes through recv_fn/send_fn;
 * the TLS layer (a later issue) replaces them with GnuTLS record I/O over
 * the same socket.
 */
#ifndef MSMTP_NET_H
#define MSMTP_NET_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>
#include "err.h"

struct net_conn {
	int fd;
	int timeout_s;          /* seconds per read/write; 0 = none */
	int deadline_on;        /* net_deadline_start() armed `deadline` */
	struct timespec deadline; /* CLOCK_MONOTONIC; every wait ends by it */
	char peer[128];         /* numeric address, socket path, or "via proxy
				 * HOST:PORT", for logs and -S */
	ssize_t (*recv_fn)(struct net_conn *c, void *p, size_t n,
			   struct err *e);
	ssize_t (*send_fn)(struct net_conn *c, const void *p, size_t n,
			   struct err *e);
	void *tls;              /* transport state of a wrapping layer */
	void (*close_fn)(struct net_conn *c); /* the layer's teardown */
};

/* Where to connect and how. */
struct net_target {
	const char *host;       /* name or address literal */
	int port;
	const char *source_ip;  /* NULL or "": the system chooses */
	int family;             /* AF_UNSPEC, AF_INET or AF_INET6 */
	int timeout_s;          /* the whole connect step, then each read or
				 * write; 0 = no limit; any int is safe (no
				 * int of milliseconds) */
};

int net_connect(const struct net_target *t, struct net_conn **out,
		struct err *e);
int net_connect_unix(const char *path, int timeout_s, struct net_conn **out,
		     struct err *e);
/* >0 bytes read, 0 end of stream, -1 error or timeout (err set). */
ssize_t net_read(struct net_conn *c, void *p, size_t n, struct err *e);
/* Write everything or fail (-1, err set). */
int net_write_all(struct net_conn *c, const void *p, size_t n, struct err *e);
/* 1 if bytes are waiting on the socket right now (no blocking). */
int net_pending(struct net_conn *c);
/* A connection over an already connected socket (a socketpair in tests);
 * it owns fd from now on, also on failure (NULL, err set). */
struct net_conn *net_conn_from_fd(int fd, int timeout_s, struct err *e);
/* Wait until the socket is ready for `events` (POLLIN/POLLOUT) within the
 * connection's timeout; -1 with err on timeout.  For transport layers. */
int net_wait(struct net_conn *c, short events, struct err *e);
/* Arm a deadline `timeout` seconds from now that every wait of c (plain
 * and TLS reads and writes) honours besides its own timeout, until
 * net_deadline_stop().  Used around the reading of one reply.  Nothing
 * is armed when the timeout is off.  A wait that passes the deadline
 * fails like a timeout ("timed out after N seconds"). */
void net_deadline_start(struct net_conn *c);
void net_deadline_stop(struct net_conn *c);
void net_close(struct net_conn *c);

#endif
