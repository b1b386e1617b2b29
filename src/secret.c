/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_SYS_PRCTL_H
#include <sys/prctl.h>
#endif

#include "buf.h"

extern char **environ;

/* Make the process non-dumpable and disable core files. */
static void secret_protect_process(void)
{
	struct rlimit rl = { 0, 0 };

	setrlimit(RLIMIT_CORE, &rl);
#ifdef HAVE_SYS_PRCTL_H
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
}

struct secret *secret_new(const char *p, size_t len)
{
	struct secret *s;

	if (len > SECRET_MAX || (s = calloc(1, sizeof *s)) == NULL)
		return NULL;
	s->p = malloc(len + 1);
	if (s->p == NULL) {
		free(s);
		return NULL;
	}
	memcpy(s->p, p, len);
	s->p[len] = '\0';
	mlock(s->p, len + 1);           /* best effort: keep it out of swap */
	s->len = len;
	secret_protect_process();
	return s;
}

void secret_free(struct secret *s)
{
	if (s == NULL)
		return;
	buf_wipe(s->p, s->len + 1);
	munlock(s->p, s->len + 1);
	free(s->p);
	free(s);
}

/* ---- commands under a deadline -------------------------------------- */

/* Milliseconds left until the deadline, as poll() wants them: -1 without
 * a deadline, 0 once it has passed, at most INT_MAX (a huge timeout must
 * not wrap around into "forever" or into a tiny wait). */
static int secret_ms_left(const struct timespec *deadline)
{
	struct timespec now;
	long long ms;

	if (deadline == NULL)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000
		+ (deadline->tv_nsec - now.tv_nsec) / 1000000;
	if (ms <= 0)
		return 0;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

void secret_cmd_init(struct secret_cmd *c, int timeout, size_t out_max)
{
	memset(c, 0, sizeof *c);
	c->timeout = timeout > 0 ? timeout : 0;
	buf_init(&c->out, out_max);
	buf_init(&c->err, SECRET_STDERR_MAX);
}

void secret_cmd_free(struct secret_cmd *c)
{
	buf_free(&c->out);
	buf_free(&c->err);
}

/* Spawn attributes: a process group of its own (so the whole group can be
 * killed on expiry) and default signal handling (we ignore SIGPIPE, the
 * command must not inherit that). */
static int secret_cmd_attr(posix_spawnattr_t *at)
{
	sigset_t all, none;

	sigfillset(&all);
	sigemptyset(&none);
	if (posix_spawnattr_init(at) != 0)
		return -1;
	if (posix_spawnattr_setflags(at, POSIX_SPAWN_SETPGROUP
				     | POSIX_SPAWN_SETSIGDEF
				     | POSIX_SPAWN_SETSIGMASK) != 0
	    || posix_spawnattr_setpgroup(at, 0) != 0
	    || posix_spawnattr_setsigdefault(at, &all) != 0
	    || posix_spawnattr_setsigmask(at, &none) != 0) {
		posix_spawnattr_destroy(at);
		return -1;
	}
	return 0;
}

/* File actions: stdin from /dev/null (our stdin may carry the mail),
 * stdout (and stderr when kept) into the pipes. */
static int secret_cmd_files(posix_spawn_file_actions_t *fa, int outw, int errw)
{
	if (posix_spawn_file_actions_init(fa) != 0)
		return -1;
	if (posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0)
	    != 0 || posix_spawn_file_actions_adddup2(fa, outw, 1) != 0
	    || (errw >= 0 && posix_spawn_file_actions_adddup2(fa, errw, 2) != 0)) {
		posix_spawn_file_actions_destroy(fa);
		return -1;
	}
	return 0;
}

static void secret_close_pair(int p[2])
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	p[0] = p[1] = -1;
}

/* Start `sh -c cmd`; the read ends of its output pipes go to *outfd and
 * *errfd (-1 when stderr is inherited). */
static int secret_cmd_spawn(struct secret_cmd *c, const char *cmd, pid_t *pid,
			    int *outfd, int *errfd, struct err *e)
{
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int op[2] = { -1, -1 }, ep[2] = { -1, -1 };
	int r = ENOMEM;

	if (pipe2(op, O_CLOEXEC) < 0
	    || (c->keep_stderr && pipe2(ep, O_CLOEXEC) < 0)) {
		r = errno;
		secret_close_pair(op);
		return err_set(e, ERR_OSERR, "cannot create a pipe: %s",
			       strerror(r));
	}
	if (secret_cmd_files(&fa, op[1], ep[1]) == 0) {
		if (secret_cmd_attr(&at) == 0) {
			r = posix_spawn(pid, "/bin/sh", &fa, &at, argv, environ);
			posix_spawnattr_destroy(&at);
		}
		posix_spawn_file_actions_destroy(&fa);
	}
	close(op[1]);
	if (ep[1] >= 0)
		close(ep[1]);
	if (r != 0) {
		close(op[0]);
		if (ep[0] >= 0)
			close(ep[0]);
		return err_set(e, ERR_OSERR, "cannot run /bin/sh: %s",
			       strerror(r));
	}
	*outfd = op[0];
	*errfd = ep[0];
	return 0;
}

/* Keep bytes of stdout: everything up to the ceiling (the rest is read and
 * dropped), or only the first line.  1 = stop reading stdout. */
static int secret_cmd_take(struct secret_cmd *c, const char *p, size_t n)
{
	const char *nl = c->first_line ? memchr(p, '\n', n) : NULL;
	size_t want = nl ? (size_t)(nl - p) : n;
	size_t room = c->out.max - c->out.len;

	c->got_output = 1;
	if (c->out_errno == 0 && buf_append(&c->out, p, want < room ? want
					    : room) < 0)
		c->out_errno = errno;
	if (c->out_errno == 0 && want > room)
		c->out_errno = E2BIG;
	return nl != NULL || (c->first_line && c->out_errno != 0);
}

/* One readable pipe: 1 when it is finished with (end of file, or stdout
 * no longer wanted). */
static int secret_cmd_read(struct secret_cmd *c, int is_out, int fd)
{
	char chunk[4096];
	ssize_t n = read(fd, chunk, sizeof chunk);
	int done;

	if (n < 0)
		return errno != EINTR && errno != EAGAIN;
	if (n == 0)
		return 1;
	done = 0;
	if (is_out)
		done = secret_cmd_take(c, chunk, (size_t)n);
	else    /* beyond its ceiling stderr is dropped */
		(void)buf_append(&c->err, chunk, (size_t)n);
	buf_wipe(chunk, (size_t)n);
	return done;
}

/* Read the command's pipes until both are finished with or the deadline
 * passes (1); the pipes are closed either way. */
static int secret_cmd_collect(struct secret_cmd *c, int outfd, int errfd,
			      const struct timespec *deadline)
{
	struct pollfd p[2];
	int expired = 0, i;

	p[0].fd = outfd;
	p[1].fd = errfd;
	p[0].events = p[1].events = POLLIN;
	while (!expired && (p[0].fd >= 0 || p[1].fd >= 0)) {
		int r = poll(p, 2, secret_ms_left(deadline));

		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0) {
			expired = r == 0 && secret_ms_left(deadline) == 0;
			continue;
		}
		for (i = 0; i < 2; i++) {
			if (p[i].fd < 0 || p[i].revents == 0)
				continue;
			if (secret_cmd_read(c, i == 0, p[i].fd)) {
				close(p[i].fd);
				p[i].fd = -1;
			}
		}
	}
	for (i = 0; i < 2; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	return expired;
}

/* Reap the child, waiting for it no later than the deadline.  On expiry
 * its whole process group is killed first (the command may have started
 * others).  1 = killed. */
static int secret_cmd_reap(pid_t pid, int *status,
			   const struct timespec *deadline, int expired)
{
	long nap_ms = 1;

	while (!expired) {
		pid_t r = waitpid(pid, status, deadline ? WNOHANG : 0);
		int left;
		struct timespec nap;

		if (r == pid || (r < 0 && errno != EINTR))
			return 0;
		if (r < 0)
			continue;
		left = secret_ms_left(deadline);
		if (left == 0)
			break;
		nap_ms = nap_ms < left ? nap_ms : left;
		nap.tv_sec = 0;
		nap.tv_nsec = nap_ms * 1000000L;
		nanosleep(&nap, NULL);
		nap_ms = nap_ms * 2 > 50 ? 50 : nap_ms * 2;
	}
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	return 1;
}

int secret_cmd_run(struct secret_cmd *c, const char *cmd, struct err *e)
{
	struct timespec deadline;
	int outfd, errfd, expired;
	pid_t pid;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += c->timeout;
	if (secret_cmd_spawn(c, cmd, &pid, &outfd, &errfd, e) < 0)
		return -1;
	expired = secret_cmd_collect(c, outfd, errfd,
				     c->timeout > 0 ? &deadline : NULL);
	c->status = 0;
	c->timed_out = secret_cmd_reap(pid, &c->status,
				       c->timeout > 0 ? &deadline : NULL,
				       expired);
	return 0;
}

/* ---- passwordeval -------------------------------------------------- */

/* The command's stderr as one short printable line for messages. */
static void secret_stderr_line(const struct buf *errb, char *dst, size_t n)
{
	size_t i, o = 0;
	const char *p = buf_str(errb);

	for (i = 0; i < errb->len && o + 1 < n && p[i] != '\n'; i++)
		dst[o++] = ((unsigned char)p[i] < 0x20) ? ' ' : p[i];
	dst[o] = '\0';
}

/* Judge a finished passwordeval run: the first line of its output is
 * the password, unless it ran too long, failed or printed none. */
static int secret_eval_result(const struct secret_cmd *c, const char *why,
			      struct secret **out, struct err *e)
{
	const char *sep = why[0] ? ": " : "";
	size_t len = 0;

	if (c->timed_out)
		return err_set(e, ERR_CONFIG, "the passwordeval command did not "
			       "finish within %d seconds (the account's timeout)",
			       c->timeout);
	if (!WIFEXITED(c->status) || WEXITSTATUS(c->status) != 0)
		return err_set(e, ERR_CONFIG, "the passwordeval command failed "
			       "(%s %d)%s%s", WIFEXITED(c->status) ? "exit status"
			       : "signal", WIFEXITED(c->status)
			       ? WEXITSTATUS(c->status) : WTERMSIG(c->status),
			       sep, why);
	if (c->out_errno == ENOMEM)
		return err_set(e, ERR_OSERR, "out of memory");
	while (len < c->out.len && c->out.data[len] != '\n'
	       && c->out.data[len] != '\r')
		len++;
	if (len == c->out.len && c->out_errno == E2BIG)
		len = SECRET_MAX + 1;   /* no line end within the ceiling */
	if (len == 0 || len > SECRET_MAX)
		return err_set(e, ERR_CONFIG, "the passwordeval command %s%s%s",
			       len == 0 ? "printed no password"
			       : "printed a password that is too long", sep, why);
	*out = secret_new(c->out.data, len);
	return *out ? 0 : err_set(e, ERR_OSERR, "out of memory");
}

static int secret_eval(const char *cmd, int timeout, struct secret **out,
		       struct err *e)
{
	struct secret_cmd c;
	char why[256];
	int r;

	secret_cmd_init(&c, timeout, SECRET_MAX + 2);
	c.keep_stderr = 1;
	if (secret_cmd_run(&c, cmd, e) < 0) {
		secret_cmd_free(&c);
		err_prefix(e, "the passwordeval command");
		return -1;
	}
	secret_stderr_line(&c.err, why, sizeof why);
	r = secret_eval_result(&c, why, out, e);
	secret_cmd_free(&c);
	return r;
}

/* ---- netrc --------------------------------------------------------- */

/* Next netrc token (whitespace separated, "double quoted" with \
 * escapes) from p; NULL at the end.  The token goes into tok. */
static const char *secret_netrc_token(const char *p, const char *end,
				      char *tok, size_t n)
{
	size_t o = 0;

	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'
			   || *p == ','))
		p++;
	if (p >= end)
		return NULL;
	if (*p == '"') {
		for (p++; p < end && *p != '"'; p++) {
			if (*p == '\\' && p + 1 < end)
				p++;
			if (o + 1 < n)
				tok[o++] = *p;
		}
		if (p < end)
			p++;
	} else {
		for (; p < end && *p != ' ' && *p != '\t' && *p != '\n'
		     && *p != '\r'; p++)
			if (o + 1 < n)
				tok[o++] = *p;
	}
	tok[o] = '\0';
	return p;
}

static int secret_read_file(const char *path, struct buf *b, struct err *e)
{
	char chunk[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0
			: err_set(e, ERR_CONFIG, "cannot read %s: %s", path,
				  strerror(errno));
	while ((n = read(fd, chunk, sizeof chunk)) > 0)
		if (buf_append(b, chunk, (size_t)n) < 0) {
			close(fd);
			return err_set(e, ERR_CONFIG, "%s is too large", path);
		}
	close(fd);
	buf_wipe(chunk, sizeof chunk);
	return n < 0 ? err_set(e, ERR_CONFIG, "cannot read %s: %s", path,
			       strerror(errno)) : 1;
}

int secret_netrc(const char *path, const char *host, const char *user,
		 struct secret **out, char **login_out, struct err *e)
{
	struct buf b;
	const char *p, *end;
	char tok[SECRET_MAX + 1], login[1024], pass[SECRET_MAX + 1];
	int r, in_entry = 0, have_pass = 0, found = 0;

	*out = NULL;
	if (login_out)
		*login_out = NULL;
	buf_init(&b, 1024 * 1024);
	r = secret_read_file(path, &b, e);
	if (r <= 0) {
		buf_free(&b);
		return r;
	}
	p = buf_str(&b);
	end = p + b.len;
	login[0] = pass[0] = '\0';
	while (!found && (p = secret_netrc_token(p, end, tok, sizeof tok))) {
		int starts = strcmp(tok, "machine") == 0 || strcmp(tok, "default") == 0;

		/* an entry ends where the next one starts (or at EOF) */
		if (starts && in_entry && have_pass
		    && (user == NULL || strcmp(login, user) == 0)) {
			found = 1;
			break;
		}
		if (strcmp(tok, "machine") == 0) {
			p = secret_netrc_token(p, end, tok, sizeof tok);
			in_entry = p != NULL && strcasecmp(tok, host) == 0;
			login[0] = pass[0] = '\0';
			have_pass = 0;
		} else if (strcmp(tok, "default") == 0) {
			in_entry = 1;
			login[0] = pass[0] = '\0';
			have_pass = 0;
		} else if (strcmp(tok, "login") == 0) {
			p = secret_netrc_token(p, end, tok, sizeof tok);
			snprintf(login, sizeof login, "%.1023s", p ? tok : "");
		} else if (strcmp(tok, "password") == 0) {
			p = secret_netrc_token(p, end, tok, sizeof tok);
			snprintf(pass, sizeof pass, "%s", p ? tok : "");
			have_pass = 1;
		} else if (strcmp(tok, "account") == 0) {
			p = secret_netrc_token(p, end, tok, sizeof tok);
		} else if (strcmp(tok, "macdef") == 0) {
			const char *blank = p;

			/* a macro runs to the next empty line */
			while (blank && blank < end - 1
			       && !(blank[0] == '\n' && blank[1] == '\n'))
				blank++;
			p = blank;
		}
		if (p == NULL)
			break;
	}
	if (!found && in_entry && have_pass
	    && (user == NULL || strcmp(login, user) == 0))
		found = 1;
	buf_free(&b);
	buf_wipe(tok, sizeof tok);
	if (found) {
		*out = secret_new(pass, strlen(pass));
		if (login_out && login[0])
			*login_out = strdup(login);
	}
	buf_wipe(pass, sizeof pass);
	if (found && *out == NULL)
		return err_set(e, ERR_OSERR, "out of memory");
	return found;
}

/* ---- keyring and prompt --------------------------------------------- */

/* The keyring (msmtp-keyring.so in a build with libsecret): 1 found, 0
 * not there or no keyring, -1 out of memory. */
static int secret_keyring(const struct secret_req *r, struct secret **out)
{
#ifdef HAVE_LIBSECRET
	return keyring_lookup(r->host, r->user, out);
#else
	(void)r;
	(void)out;
	return 0;
#endif
}

/* Signals that end the process while the prompt has echo off. */
static const int secret_prompt_sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
#define SECRET_PROMPT_NSIGS \
	(sizeof secret_prompt_sigs / sizeof secret_prompt_sigs[0])

/* The terminal and its settings before the prompt, for the handler. */
static volatile sig_atomic_t secret_tty_fd = -1;
static struct termios secret_tty_saved;

/* A signal at the prompt: put the terminal back as it was (echo on), end
 * the prompt line, then die of the same signal.  SA_RESETHAND made the
 * action the default again; the raised signal is delivered as soon as the
 * handler returns (it is blocked while the handler runs).  Only
 * async-signal-safe calls. */
static void secret_prompt_on_signal(int sig)
{
	int fd = secret_tty_fd;

	if (fd >= 0) {
		ssize_t w;

		tcsetattr(fd, TCSANOW, &secret_tty_saved);
		w = write(fd, "\n", 1);
		(void)w;
	}
	raise(sig);
}

/* Catch the ending signals for the time of the prompt (old actions in
 * old[]); a signal the caller ignores (nohup) stays ignored. */
static void secret_prompt_catch(struct sigaction *old)
{
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = secret_prompt_on_signal;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < SECRET_PROMPT_NSIGS; i++)
		sigaddset(&sa.sa_mask, secret_prompt_sigs[i]);
	for (i = 0; i < SECRET_PROMPT_NSIGS; i++) {
		sigaction(secret_prompt_sigs[i], NULL, &old[i]);
		if (old[i].sa_handler != SIG_IGN)
			sigaction(secret_prompt_sigs[i], &sa, NULL);
	}
}

static void secret_prompt_release(const struct sigaction *old)
{
	size_t i;

	for (i = 0; i < SECRET_PROMPT_NSIGS; i++)
		sigaction(secret_prompt_sigs[i], &old[i], NULL);
}

/* Read one line from the terminal with echo off.  The terminal settings
 * are restored on every way out, a fatal signal included. */
static int secret_prompt(const struct secret_req *r, struct secret **out)
{
	struct sigaction old[SECRET_PROMPT_NSIGS];
	struct termios quiet;
	char line[SECRET_MAX + 2];
	size_t len = 0;
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	int restore;
	char c;

	if (fd < 0)
		return 0;
	restore = tcgetattr(fd, &secret_tty_saved) == 0;
	if (restore) {
		secret_prompt_catch(old);
		secret_tty_fd = fd;
		quiet = secret_tty_saved;
		quiet.c_lflag &= (tcflag_t)~ECHO;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	dprintf(fd, "password for %s at %s: ", r->user ? r->user : "",
		r->host ? r->host : "");
	while (read(fd, &c, 1) == 1 && c != '\n' && c != '\r')
		if (len < SECRET_MAX)
			line[len++] = c;
	if (restore) {
		tcsetattr(fd, TCSAFLUSH, &secret_tty_saved);
		secret_tty_fd = -1;
		secret_prompt_release(old);
	}
	dprintf(fd, "\n");
	close(fd);
	*out = len > 0 ? secret_new(line, len) : NULL;
	buf_wipe(line, sizeof line);
	buf_wipe(&c, sizeof c);
	return *out ? 1 : 0;
}

int secret_netrc_login(const char *host, const char *home,
		       const char *system_netrc, char **login, struct err *e)
{
	const char *files[2];
	char path[4096];
	struct secret *pw = NULL;
	int i, found = 0;

	*login = NULL;
	snprintf(path, sizeof path, "%s/.netrc", home ? home : "");
	files[0] = home && *home ? path : NULL;
	files[1] = system_netrc ? system_netrc : SYSCONFDIR "/netrc";
	for (i = 0; i < 2 && found == 0; i++) {
		if (files[i] == NULL)
			continue;
		found = secret_netrc(files[i], host, NULL, &pw, login, e);
		secret_free(pw);
		pw = NULL;
		if (found == 1 && *login == NULL)
			found = 0;      /* an entry without a login names nobody */
	}
	return found;
}

int secret_load(const struct secret_req *r, struct secret **out,
		struct err *e)
{
	char path[4096];
	const char *home = r->netrc_home ? r->netrc_home : getenv("HOME");
	int found;

	*out = NULL;
	if (r->password) {
		*out = secret_new(r->password, strlen(r->password));
		return *out ? 0 : err_set(e, ERR_OSERR, "out of memory");
	}
	if (r->passwordeval && *r->passwordeval)
		return secret_eval(r->passwordeval, r->timeout, out, e);
	found = secret_keyring(r, out);
	if (found == 0 && home && *home) {
		snprintf(path, sizeof path, "%s/.netrc", home);
		found = secret_netrc(path, r->host ? r->host : "", r->user, out,
				     NULL, e);
	}
	if (found == 0) {
		snprintf(path, sizeof path, "%s", r->netrc_system ? r->netrc_system
			 : SYSCONFDIR "/netrc");
		found = secret_netrc(path, r->host ? r->host : "", r->user, out,
				     NULL, e);
	}
	if (found == 0 && !r->no_prompt)
		found = secret_prompt(r, out);
	if (found < 0)
		return -1;
	if (found == 0)
		return err_set(e, ERR_CONFIG, "no password for %s at %s: tried "
			       "password, passwordeval,%s ~/.netrc, %s and a "
			       "terminal prompt", r->user ? r->user : "(no user)",
			       r->host ? r->host : "", 
#ifdef HAVE_LIBSECRET
			       " the keyring,",
#else
			       "",
#endif
			       r->netrc_system ? r->netrc_system
			       : SYSCONFDIR "/netrc");
	return 0;
}
