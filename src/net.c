/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <idn2.h>
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

static ssize_t net_plain_send(struct net_conn *c, const void *p, size_t n,
			      struct err *e)
{
	ssize_t r;

	for (;;) {
		if (net_wait(c, POLLOUT, e) < 0)
			return -1;
		r = send(c->fd, p, n, MSG_NOSIGNAL);
		if (r >= 0)
			return r;
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			return err_set(e, ERR_TEMPFAIL, "network write error: %s",
				       strerror(errno));
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

static struct net_conn *net_conn_new(int fd, int timeout_s)
{
	struct net_conn *c = calloc(1, sizeof *c);

	if (c == NULL)
		return NULL;
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

/* Non-blocking connect bounded by the timeout (seconds, 0 = none);
 * returns 0 or an errno. */
static int net_connect_fd(int fd, const struct sockaddr *sa, socklen_t len,
			  int timeout_s)
{
	struct pollfd pfd;
	struct timespec end;
	int r, soerr = 0;
	socklen_t sl = sizeof soerr;

	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EINTR)
		return errno;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	if (timeout_s > 0)
		net_time_after(&end, timeout_s);
	r = net_poll_until(&pfd, timeout_s > 0 ? &end : NULL);
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

/* Resolve host (converted to an A-label when it is an IDN). */
static int net_resolve(const char *host, int port, struct addrinfo **res,
		       struct err *e)
{
	struct addrinfo hints;
	char portstr[16];
	char *ascii = NULL;
	int r;

	if (idn2_to_ascii_8z(host, &ascii, IDN2_NONTRANSITIONAL) != IDN2_OK) {
		ascii = NULL;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	snprintf(portstr, sizeof portstr, "%d", port);
	r = getaddrinfo(ascii ? ascii : host, portstr, &hints, res);
	if (r == EAI_ADDRFAMILY || r == EAI_NONAME) {
		/* AI_ADDRCONFIG hides loopback-only setups: ask again */
		hints.ai_flags = 0;
		r = getaddrinfo(ascii ? ascii : host, portstr, &hints, res);
	}
	idn2_free(ascii);
	if (r == 0)
		return 0;
	if (r == EAI_NONAME || r == EAI_NODATA || r == EAI_ADDRFAMILY)
		return err_set(e, ERR_NOHOST, "cannot locate host %s: %s", host,
			       gai_strerror(r));
	if (r == EAI_MEMORY)
		return err_set(e, ERR_OSERR, "cannot locate host %s: %s", host,
			       gai_strerror(r));
	return err_set(e, ERR_TEMPFAIL, "cannot locate host %s: %s", host,
		       r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
}

static void net_set_peer(struct net_conn *c, const struct sockaddr *sa)
{
	const void *a = sa->sa_family == AF_INET6
		? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
		: (const void *)&((const struct sockaddr_in *)sa)->sin_addr;

	if (inet_ntop(sa->sa_family, a, c->peer, sizeof c->peer) == NULL)
		c->peer[0] = '\0';
}

int net_connect(const char *host, int port, const char *source_ip,
		int timeout_s, struct net_conn **out, struct err *e)
{
	struct addrinfo *res, *ai;
	int last = 0, one = 1;

	if (net_resolve(host, port, &res, e) < 0)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		int fd = socket(ai->ai_family,
				ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
				ai->ai_protocol);

		if (fd < 0) {
			freeaddrinfo(res);
			return err_set(e, ERR_OSERR, "cannot create socket: %s",
				       strerror(errno));
		}
		if (source_ip && *source_ip
		    && net_bind_source(fd, ai->ai_family, source_ip, e) < 0) {
			close(fd);
			freeaddrinfo(res);
			return -1;
		}
		last = net_connect_fd(fd, ai->ai_addr, ai->ai_addrlen, timeout_s);
		if (last == 0) {
			struct net_conn *c = net_conn_new(fd, timeout_s);

			if (c == NULL) {
				close(fd);
				freeaddrinfo(res);
				return err_set(e, ERR_OSERR, "out of memory");
			}
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			net_set_peer(c, ai->ai_addr);
			freeaddrinfo(res);
			*out = c;
			return 0;
		}
		close(fd);
	}
	freeaddrinfo(res);
	if (last == ETIMEDOUT)
		return err_set(e, ERR_TEMPFAIL,
			       "cannot connect to %s, port %d: timed out after %d seconds",
			       host, port, timeout_s);
	return err_set(e, ERR_TEMPFAIL, "cannot connect to %s, port %d: %s",
		       host, port, strerror(last));
}

int net_connect_unix(const char *path, int timeout_s, struct net_conn **out,
		     struct err *e)
{
	struct sockaddr_un sun;
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
	r = net_connect_fd(fd, (struct sockaddr *)&sun, sizeof sun, timeout_s);
	if (r != 0) {
		close(fd);
		return err_set(e, ERR_TEMPFAIL, "cannot connect to socket %s: %s",
			       path, strerror(r));
	}
	c = net_conn_new(fd, timeout_s);
	if (c == NULL) {
		close(fd);
		return err_set(e, ERR_OSERR, "out of memory");
	}
	snprintf(c->peer, sizeof c->peer, "%s", path);
	*out = c;
	return 0;
}
