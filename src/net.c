/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "net.h"
#include "ext.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <arpa/inet.h>
#include <unistd.h>

/* The monotonic time `secs` seconds from now. */
static void net_time_after(struct timespec *t, int secs)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += secs;
}

/* Milliseconds until `end`, rounded up, for poll(): 0 once it has passed,
 * at most INT_MAX.  Timeouts are kept in seconds and as points in time,
 * never as an int of milliseconds: `timeout 4294968` once wrapped around
 * to 0.7 s. */
static int net_ms_until(const struct timespec *end)
{
	struct timespec now;
	long long ns, ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (long long)(end->tv_sec - now.tv_sec) * 1000000000LL
		+ (end->tv_nsec - now.tv_nsec);
	if (ns <= 0)
		return 0;
	ms = (ns + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* poll() one descriptor until it is ready or `end` passes (NULL: no
 * limit), in slices poll() can take.  1 ready, 0 expired, -1 error. */
static int net_poll_until(struct pollfd *pfd, const struct timespec *end)
{
	for (;;) {
		int ms = end != NULL ? net_ms_until(end) : -1;
		int r;

		if (ms == 0)
			return 0;
		r = poll(pfd, 1, ms);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

void net_deadline_start(struct net_conn *c)
{
	c->deadline_on = c->timeout_s > 0;
	if (c->deadline_on)
		net_time_after(&c->deadline, c->timeout_s);
}

void net_deadline_stop(struct net_conn *c)
{
	c->deadline_on = 0;
}

/* 1 if time a is before time b. */
static int net_time_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec
		|| (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Wait until fd is ready for `events`, at most the connection's timeout
 * and not past its armed deadline; -1 with err on timeout/error. */
int net_wait(struct net_conn *c, short events, struct err *e)
{
	struct pollfd pfd;
	struct timespec end;
	int r;

	pfd.fd = c->fd;
	pfd.events = events;
	if (c->timeout_s > 0) {
		net_time_after(&end, c->timeout_s);
		if (c->deadline_on && net_time_before(&c->deadline, &end))
			end = c->deadline;
	}
	r = net_poll_until(&pfd, c->timeout_s > 0 ? &end : NULL);
	if (r == 0)
		return err_set(e, ERR_TEMPFAIL, "timed out after %d seconds",
			       c->timeout_s);
	if (r < 0)
		return err_set(e, ERR_IOERR, "poll failed: %s",
			       strerror(errno));
	return 0;
}

static ssize_t net_plain_recv(struct net_conn *c, void *p, size_t n,
			      struct err *e)
{
	ssize_t r;

	for (;;) {
		if (net_wait(c, POLLIN, e) < 0)
			return -1;
		r = recv(c->fd, p, n, 0);
		if (r >= 0)
			return r;
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			return err_set(e, ERR_TEMPFAIL, "network read error: %s",
				       strerror(errno));
	}
}

/* The send is tried first and the wait comes only when the socket is
 * full: a socket with room needs no poll (one syscall per write, not two). */
static ssize_t net_plain_send(struct net_conn *c, const void *p, size_t n,
			      struct err *e)
{
	ssize_t r;

	for (;;) {
		r = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r >= 0)
			return r;
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			return err_set(e, ERR_TEMPFAIL, "network write error: %s",
				       strerror(errno));
		if (errno != EINTR && net_wait(c, POLLOUT, e) < 0)
			return -1;
	}
}

ssize_t net_read(struct net_conn *c, void *p, size_t n, struct err *e)
{
	return c->recv_fn(c, p, n, e);
}

int net_write_all(struct net_conn *c, const void *p, size_t n, struct err *e)
{
	const char *q = p;

	while (n > 0) {
		ssize_t w = c->send_fn(c, q, n, e);

		if (w < 0)
			return -1;
		q += w;
		n -= (size_t)w;
	}
	return 0;
}

struct net_conn *net_conn_from_fd(int fd, int timeout_s, struct err *e)
{
	struct net_conn *c = calloc(1, sizeof *c);

	if (c == NULL) {
		close(fd);
		err_set(e, ERR_OSERR, "out of memory");
		return NULL;
	}
	c->fd = fd;
	c->timeout_s = timeout_s > 0 ? timeout_s : 0;
	c->recv_fn = net_plain_recv;
	c->send_fn = net_plain_send;
	return c;
}

int net_pending(struct net_conn *c)
{
	char b;

	return recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

void net_close(struct net_conn *c)
{
	if (c == NULL)
		return;
	if (c->close_fn != NULL)
		c->close_fn(c);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

/* Non-blocking connect that gives up at `end` (NULL: never); returns 0
 * or an errno. */
static int net_connect_fd(int fd, const struct sockaddr *sa, socklen_t len,
			  const struct timespec *end)
{
	struct pollfd pfd;
	int r, soerr = 0;
	socklen_t sl = sizeof soerr;

	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EINTR)
		return errno;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	r = net_poll_until(&pfd, end);
	if (r == 0)
		return ETIMEDOUT;
	if (r < 0)
		return errno;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		return errno;
	return soerr;
}

static int net_bind_source(int fd, int family, const char *source_ip,
			   struct err *e)
{
	struct addrinfo hints, *res = NULL;
	int r;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	r = getaddrinfo(source_ip, NULL, &hints, &res);
	if (r != 0)
		return err_set(e, ERR_CONFIG,
			       "cannot use source address %s: %s", source_ip,
			       gai_strerror(r));
	r = bind(fd, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (r < 0)
		return err_set(e, ERR_OSERR, "cannot bind to source address %s: %s",
			       source_ip, strerror(errno));
	return 0;
}

static const char *net_family_name(int family)
{
	return family == AF_INET ? "ipv4" : "ipv6";
}

/* An address literal of the other family can never satisfy ip_family:
 * say so plainly instead of the resolver's "family not supported". */
static int net_check_literal(const char *host, int family, struct err *e)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (family == AF_INET6 && inet_pton(AF_INET, host, &a4) == 1)
		return err_set(e, ERR_NOHOST, "cannot locate host %s: an IPv4 "
			       "address, but ip_family is ipv6", host);
	if (family == AF_INET && inet_pton(AF_INET6, host, &a6) == 1)
		return err_set(e, ERR_NOHOST, "cannot locate host %s: an IPv6 "
			       "address, but ip_family is ipv4", host);
	return 0;
}

/* The resolver's failure as an error value; with a family asked for, the
 * message says which (a name may have addresses of the other only). */
static int net_resolve_error(const char *host, int family, int r,
			     struct err *e)
{
	char why[64] = "";

	if (family != AF_UNSPEC)
		snprintf(why, sizeof why, " (ip_family %s)",
			 net_family_name(family));
	if (r == EAI_NONAME || r == EAI_NODATA || r == EAI_ADDRFAMILY)
		return err_set(e, ERR_NOHOST, "cannot locate host %s: %s%s",
			       host, gai_strerror(r), why);
	if (r == EAI_MEMORY)
		return err_set(e, ERR_OSERR, "cannot locate host %s: %s", host,
			       gai_strerror(r));
	return err_set(e, ERR_TEMPFAIL, "cannot locate host %s: %s%s", host,
		       r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r), why);
}

/* Resolve the target's host (converted to an A-label when it is an IDN)
 * to addresses of its family. */
static int net_resolve(const struct net_target *t, struct addrinfo **res,
		       struct err *e)
{
	struct addrinfo hints;
	char portstr[16];
	char *ascii = NULL;
	const char *why;
	int r;

	if (net_check_literal(t->host, t->family, e) < 0)
		return -1;
	if (ext_idn_to_ascii(t->host, &ascii, &why) != EXT_IDN_OK)
		ascii = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = t->family;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof portstr, "%d", t->port);
	/* an address literal first: AI_ADDRCONFIG would ask the kernel for
	 * the host's addresses (a netlink dump, ten system calls) and the
	 * name service cache about a name that is no name */
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	r = getaddrinfo(ascii ? ascii : t->host, portstr, &hints, res);
	if (r == 0) {
		free(ascii);
		return 0;
	}
	hints.ai_flags = AI_ADDRCONFIG;
	r = getaddrinfo(ascii ? ascii : t->host, portstr, &hints, res);
	if (r == EAI_ADDRFAMILY || r == EAI_NONAME) {
		/* AI_ADDRCONFIG hides loopback-only setups: ask again */
		hints.ai_flags = 0;
		r = getaddrinfo(ascii ? ascii : t->host, portstr, &hints, res);
	}
	free(ascii);
	if (r == 0)
		return 0;
	return net_resolve_error(t->host, t->family, r, e);
}

/* The numeric form of an address, for logs and for c->peer. */
static void net_addr_text(const struct sockaddr *sa, char *out, size_t n)
{
	const void *a = sa->sa_family == AF_INET6
		? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
		: (const void *)&((const struct sockaddr_in *)sa)->sin_addr;

	if (inet_ntop(sa->sa_family, a, out, (socklen_t)n) == NULL && n > 0)
		out[0] = '\0';
}

/* One attempt on one resolved address, ending at `end` (NULL: none).
 * 0 connected (*out set); a positive errno: this address failed, try
 * the next; -1 (err set): no point trying others. */
static int net_try_address(const struct net_target *t,
			   const struct addrinfo *ai, const struct timespec *end,
			   struct net_conn **out, struct err *e)
{
	char addr[INET6_ADDRSTRLEN];
	int fd, r, one = 1;

	net_addr_text(ai->ai_addr, addr, sizeof addr);
	log_debug("trying %s, port %d", addr, t->port);
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol);
	if (fd < 0)
		return err_set(e, ERR_OSERR, "cannot create socket: %s",
			       strerror(errno));
	if (t->source_ip && *t->source_ip
	    && net_bind_source(fd, ai->ai_family, t->source_ip, e) < 0) {
		close(fd);
		return -1;
	}
	r = net_connect_fd(fd, ai->ai_addr, ai->ai_addrlen, end);
	if (r != 0) {
		close(fd);
		return r;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	*out = net_conn_from_fd(fd, t->timeout_s, e);
	if (*out == NULL)
		return -1;
	snprintf((*out)->peer, sizeof (*out)->peer, "%s", addr);
	return 0;
}

/* Why nothing connected: the last attempt's error; a timeout tells how
 * many of the addresses the one deadline allowed. */
static int net_connect_failed(const struct net_target *t, int last,
			      int tried, int total, struct err *e)
{
	char note[64] = "";

	if (last != ETIMEDOUT)
		return err_set(e, ERR_TEMPFAIL, "cannot connect to %s, port %d: "
			       "%s", t->host, t->port, strerror(last));
	if (total > 1)
		snprintf(note, sizeof note, " (%d of %d addresses tried)",
			 tried, total);
	return err_set(e, ERR_TEMPFAIL, "cannot connect to %s, port %d: timed "
		       "out after %d seconds%s", t->host, t->port, t->timeout_s,
		       note);
}

/* The addresses in resolver order, sequentially, under one deadline: an
 * address is only tried while time is left. */
int net_connect(const struct net_target *t, struct net_conn **out,
		struct err *e)
{
	struct addrinfo *res, *ai;
	struct timespec end;
	int last = ETIMEDOUT, tried = 0, total = 0, r;

	*out = NULL;
	if (net_resolve(t, &res, e) < 0)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next)
		total++;
	if (t->timeout_s > 0)
		net_time_after(&end, t->timeout_s);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (tried > 0 && t->timeout_s > 0 && net_ms_until(&end) == 0)
			break;
		tried++;
		r = net_try_address(t, ai, t->timeout_s > 0 ? &end : NULL, out,
				    e);
		if (r <= 0) {
			freeaddrinfo(res);
			return r;
		}
		last = r;
	}
	freeaddrinfo(res);
	return net_connect_failed(t, last, tried, total, e);
}

int net_connect_unix(const char *path, int timeout_s, struct net_conn **out,
		     struct err *e)
{
	struct sockaddr_un sun;
	struct timespec end;
	struct net_conn *c;
	int fd, r;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path)
		return err_set(e, ERR_CONFIG, "socket path too long: %s", path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_set(e, ERR_OSERR, "cannot create socket: %s",
			       strerror(errno));
	if (timeout_s > 0)
		net_time_after(&end, timeout_s);
	r = net_connect_fd(fd, (struct sockaddr *)&sun, sizeof sun,
			   timeout_s > 0 ? &end : NULL);
	if (r != 0) {
		close(fd);
		return err_set(e, ERR_TEMPFAIL, "cannot connect to socket %s: %s",
			       path, strerror(r));
	}
	c = net_conn_from_fd(fd, timeout_s, e);
	if (c == NULL)
		return -1;
	snprintf(c->peer, sizeof c->peer, "%s", path);
	*out = c;
	return 0;
}
