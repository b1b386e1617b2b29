#include "config.h"
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
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
#ifdef HAVE_LIBSECRET
#include <libsecret/secret.h>
#endif

#include "buf.h"

#define SECRET_STDERR_MAX 4096

void secret_protect_process(void)
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

/* ---- passwordeval -------------------------------------------------- */

static int secret_ms_left(const struct timespec *deadline)
{
	struct timespec now;
	long ms;

	if (deadline == NULL)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (deadline->tv_sec - now.tv_sec) * 1000
		+ (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : (int)ms;
}

/* Read both pipes until EOF or the deadline; 1 = timed out. */
static int secret_collect(int outfd, int errfd, struct buf *out,
			  struct buf *errb, const struct timespec *deadline)
{
	struct pollfd p[2];
	char chunk[4096];

	p[0].fd = outfd;
	p[1].fd = errfd;
	p[0].events = p[1].events = POLLIN;
	while (p[0].fd >= 0 || p[1].fd >= 0) {
		int r = poll(p, 2, secret_ms_left(deadline));
		int i;

		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			return 1;
		for (i = 0; i < 2; i++) {
			ssize_t n;

			if (p[i].fd < 0 || p[i].revents == 0)
				continue;
			n = read(p[i].fd, chunk, sizeof chunk);
			if (n <= 0) {
				p[i].fd = -1;
				continue;
			}
			/* beyond the caps, keep draining but stop storing */
			buf_append(i == 0 ? out : errb, chunk, (size_t)n);
		}
	}
	buf_wipe(chunk, sizeof chunk);
	return 0;
}

/* The command's stderr as one short printable line for messages. */
static void secret_stderr_line(const struct buf *errb, char *dst, size_t n)
{
	size_t i, o = 0;
	const char *p = buf_str(errb);

	for (i = 0; i < errb->len && o + 1 < n && p[i] != '\n'; i++)
		dst[o++] = ((unsigned char)p[i] < 0x20) ? ' ' : p[i];
	dst[o] = '\0';
}

static pid_t secret_spawn(const char *cmd, int *outfd, int *errfd)
{
	int op[2], ep[2];
	pid_t pid;

	if (pipe2(op, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(ep, O_CLOEXEC) < 0) {
		close(op[0]);
		close(op[1]);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		setpgid(0, 0);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(op[1], 1);
		dup2(ep[1], 2);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(op[1]);
	close(ep[1]);
	if (pid < 0) {
		close(op[0]);
		close(ep[0]);
		return -1;
	}
	*outfd = op[0];
	*errfd = ep[0];
	return pid;
}

static int secret_eval(const char *cmd, int timeout, struct secret **out,
		       struct err *e)
{
	struct buf ob, eb;
	struct timespec deadline;
	char why[256];
	int outfd, errfd, status = 0, timed_out;
	size_t len;
	pid_t pid;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout > 0 ? timeout : 0;
	buf_init(&ob, SECRET_MAX + 2);
	buf_init(&eb, SECRET_STDERR_MAX);
	pid = secret_spawn(cmd, &outfd, &errfd);
	if (pid < 0)
		return err_set(e, ERR_OSERR, "cannot run the passwordeval "
			       "command: %s", strerror(errno));
	timed_out = secret_collect(outfd, errfd, &ob, &eb,
				   timeout > 0 ? &deadline : NULL);
	close(outfd);
	close(errfd);
	if (timed_out)
		kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	secret_stderr_line(&eb, why, sizeof why);
	buf_free(&eb);
	if (timed_out) {
		buf_free(&ob);
		return err_set(e, ERR_CONFIG, "the passwordeval command did not "
			       "finish within %d seconds (the account's timeout)",
			       timeout);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		buf_free(&ob);
		return err_set(e, ERR_CONFIG, "the passwordeval command failed "
			       "(%s %d)%s%s", WIFEXITED(status) ? "exit status"
			       : "signal", WIFEXITED(status) ? WEXITSTATUS(status)
			       : WTERMSIG(status), why[0] ? ": " : "", why);
	}
	len = 0;
	while (len < ob.len && ob.data[len] != '\n' && ob.data[len] != '\r')
		len++;
	if (len == 0 || len > SECRET_MAX) {
		buf_free(&ob);
		return err_set(e, ERR_CONFIG, "the passwordeval command %s%s%s",
			       len == 0 ? "printed no password"
			       : "printed a password that is too long",
			       why[0] ? ": " : "", why);
	}
	*out = secret_new(ob.data, len);
	buf_free(&ob);
	return *out ? 0 : err_set(e, ERR_OSERR, "out of memory");
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

#ifdef HAVE_LIBSECRET
/* msmtp's schema, so existing keyring entries are found; the struct's
 * reserved fields stay zero */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const SecretSchema secret_schema = {
	.name = "de.marlam.msmtp.password",
	.flags = SECRET_SCHEMA_DONT_MATCH_NAME,
	.attributes = {
		{ "host", SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ "service", SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ "user", SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ NULL, 0 }
	}
};
#pragma GCC diagnostic pop

static int secret_keyring(const struct secret_req *r, struct secret **out)
{
	gchar *pw = secret_password_lookup_sync(&secret_schema, NULL, NULL,
						"host", r->host, "service", "smtp",
						"user", r->user ? r->user : "",
						NULL);

	if (pw == NULL)
		return 0;
	*out = secret_new(pw, strlen(pw));
	secret_password_free(pw);
	return *out ? 1 : -1;
}
#else
static int secret_keyring(const struct secret_req *r, struct secret **out)
{
	(void)r;
	(void)out;
	return 0;
}
#endif

static int secret_prompt(const struct secret_req *r, struct secret **out)
{
	struct termios old, quiet;
	char line[SECRET_MAX + 2];
	size_t len = 0;
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	int restore;
	char c;

	if (fd < 0)
		return 0;
	restore = tcgetattr(fd, &old) == 0;
	if (restore) {
		quiet = old;
		quiet.c_lflag &= (tcflag_t)~ECHO;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	dprintf(fd, "password for %s at %s: ", r->user ? r->user : "",
		r->host ? r->host : "");
	while (read(fd, &c, 1) == 1 && c != '\n' && c != '\r')
		if (len < SECRET_MAX)
			line[len++] = c;
	if (restore)
		tcsetattr(fd, TCSAFLUSH, &old);
	dprintf(fd, "\n");
	close(fd);
	*out = len > 0 ? secret_new(line, len) : NULL;
	buf_wipe(line, sizeof line);
	return *out ? 1 : 0;
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
