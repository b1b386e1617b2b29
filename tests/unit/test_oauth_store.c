/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The OAuth2 token store: where it lives, what it writes (bytes, modes,
 * no leftovers), what it refuses to read (links, loose permissions, other
 * owners, damaged JSON), and that the lock lets one refresh happen while
 * others wait. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "oauth_store.h"

/* ---- fsync fault injection ----------------------------------------------
 * Takes the place of libc's fsync for this program (the store is linked in
 * statically), so a test can make the n-th call fail. */
static int fsync_calls;
static int fsync_fail_at;       /* 0: never; n: the n-th call fails */

int fsync(int fd)
{
	if (fsync_fail_at > 0 && ++fsync_calls == fsync_fail_at) {
		errno = EIO;
		return -1;
	}
	return (int)syscall(SYS_fsync, fd);
}

/* ---- helpers ------------------------------------------------------------ */

struct tenv {
	char top[256];          /* mkdtemp; XDG_STATE_HOME points below it */
	char state[300];        /* top/state (not created) */
	char dir[400];          /* state/msmtp/oauth2 */
	char file[700];         /* dir/NAME.json */
	struct account *a;
	struct oauth_store *st;
};

static int test_rm_one(const char *path, const struct stat *sb, int flag,
		       struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	chmod(path, 0700);
	return remove(path);
}

/* A fresh state directory and an account `name` with the default store. */
static void test_env_open(struct tenv *t, const char *name)
{
	const char *tmp = getenv("TMPDIR");
	char safe[OAUTH_STORE_NAME_MAX + 1];
	struct err e;

	memset(t, 0, sizeof *t);
	snprintf(t->top, sizeof t->top, "%s/test_oauth_store.XXXXXX",
		 tmp && *tmp == '/' ? tmp : "/tmp");
	assert_non_null(mkdtemp(t->top));
	snprintf(t->state, sizeof t->state, "%s/state", t->top);
	snprintf(t->dir, sizeof t->dir, "%s/msmtp/oauth2", t->state);
	assert_int_equal(setenv("XDG_STATE_HOME", t->state, 1), 0);
	t->a = conf_account_new(name);
	assert_non_null(t->a);
	assert_int_equal(oauth_store_file_name(name, safe, sizeof safe), 0);
	snprintf(t->file, sizeof t->file, "%s/%s.json", t->dir, safe);
	err_init(&e);
	assert_int_equal(oauth_store_open(t->a, &t->st, &e), 0);
}

static void test_env_close(struct tenv *t)
{
	oauth_store_close(t->st);
	conf_account_free(t->a);
	nftw(t->top, test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A string of n printable characters (a long token). */
static char *test_token(size_t n, char seed)
{
	char *s = malloc(n + 1);
	size_t i;

	assert_non_null(s);
	for (i = 0; i < n; i++)
		s[i] = (char)('!' + (seed + i * 7) % 94);
	s[n] = '\0';
	return s;
}

static void test_tokens(struct oauth_tokens *t, const char *acc,
			const char *ref, long long exp)
{
	memset(t, 0, sizeof *t);
	if (acc != NULL)
		assert_non_null(t->access = secret_new(acc, strlen(acc)));
	if (ref != NULL)
		assert_non_null(t->refresh = secret_new(ref, strlen(ref)));
	t->expires_at = exp;
}

static void test_save(struct oauth_store *st, const char *acc, const char *ref,
		      long long exp)
{
	struct oauth_tokens t;
	struct err e;

	test_tokens(&t, acc, ref, exp);
	err_init(&e);
	if (oauth_store_save(st, &t, &e) != 0)
		fail_msg("save: %s", e.msg);
	oauth_tokens_clear(&t);
}

static void test_write_file(const char *path, const char *text, size_t len,
			    mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (len == 0)
		len = strlen(text);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static char *test_read_file(const char *path)
{
	static char text[200000];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, text, sizeof text - 1);
	assert_true(n >= 0);
	text[n] = '\0';
	close(fd);
	return text;
}

static mode_t test_mode(const char *path)
{
	struct stat sb;

	assert_int_equal(lstat(path, &sb), 0);
	return sb.st_mode & 07777;
}

/* The names in dir, sorted by readdir order, joined by spaces. */
static const char *test_list(const char *dir)
{
	static char out[2048];
	struct dirent *de;
	size_t o = 0;
	DIR *d = opendir(dir);

	out[0] = '\0';
	if (d == NULL)
		return "(none)";
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		o += (size_t)snprintf(out + o, sizeof out - o, "%s%s",
				      o ? " " : "", de->d_name);
		assert_true(o < sizeof out);
	}
	closedir(d);
	return out;
}

static int test_lowest_free_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	close(fd);
	return fd;
}

static double test_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- file-safe names --------------------------------------------------- */

struct name_row {
	const char *name;
	const char *safe;       /* NULL: refused */
};

static const struct name_row name_rows[] = {
	{ "default", "default" },
	{ "Work-Mail_2.x", "Work-Mail_2.x" },
	{ "a.b", "a.b" },
	{ ".hidden", "%2Ehidden" },
	{ ".", "%2E" },
	{ "..", "%2E." },
	{ "../../etc/passwd", "%2E.%2F..%2Fetc%2Fpasswd" },
	{ "a/b", "a%2Fb" },
	{ "/", "%2F" },
	{ "me@example.org", "me%40example.org" },
	{ "50%", "50%25" },
	{ "50%25", "50%2525" },
	{ "sp ace", "sp%20ace" },
	{ "tab\tnl\n", "tab%09nl%0A" },
	{ "\xc3\xa9t\xc3\xa9", "%C3%A9t%C3%A9" },
	{ "x.json.lock", "x.json.lock" },
	{ "", NULL },
};

static void test_file_names(void **state)
{
	char out[OAUTH_STORE_NAME_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof name_rows / sizeof name_rows[0]; i++) {
		const struct name_row *r = &name_rows[i];
		int rc = oauth_store_file_name(r->name, out, sizeof out);

		if (r->safe == NULL) {
			if (rc != -1)
				fail_msg("name %zu: accepted", i);
			continue;
		}
		if (rc != 0 || strcmp(out, r->safe) != 0)
			fail_msg("name %zu: got \"%s\", want \"%s\"", i,
				 rc == 0 ? out : "(refused)", r->safe);
		assert_null(strchr(out, '/'));
		assert_true(out[0] != '.');
	}
}

/* Every byte value alone, and the longest names: never "/" or a leading
 * dot, never over the limit, refused rather than cut. */
static void test_file_name_limits(void **state)
{
	char name[OAUTH_STORE_NAME_MAX + 2], out[OAUTH_STORE_NAME_MAX + 1];
	char small[8];
	int c;

	(void)state;
	for (c = 1; c < 256; c++) {
		name[0] = (char)c;
		name[1] = '\0';
		assert_int_equal(oauth_store_file_name(name, out, sizeof out), 0);
		assert_null(strchr(out, '/'));
		assert_true(out[0] != '.');
	}
	memset(name, 'a', OAUTH_STORE_NAME_MAX);
	name[OAUTH_STORE_NAME_MAX] = '\0';
	assert_int_equal(oauth_store_file_name(name, out, sizeof out), 0);
	assert_int_equal(strlen(out), OAUTH_STORE_NAME_MAX);
	name[OAUTH_STORE_NAME_MAX] = 'a';
	name[OAUTH_STORE_NAME_MAX + 1] = '\0';
	assert_int_equal(oauth_store_file_name(name, out, sizeof out), -1);
	memset(name, '/', 70);          /* 70 * 3 bytes encoded */
	name[70] = '\0';
	assert_int_equal(oauth_store_file_name(name, out, sizeof out), -1);
	assert_int_equal(oauth_store_file_name("abcdefgh", small, sizeof small),
			 -1);
	assert_int_equal(oauth_store_file_name("abcdefg", small, sizeof small), 0);
}

/* ---- where the store is ------------------------------------------------ */

static void test_where(const struct account *a, const char *want)
{
	struct oauth_store *st = NULL;
	struct err e;

	err_init(&e);
	if (oauth_store_open(a, &st, &e) != 0)
		fail_msg("open: %s", e.msg);
	assert_string_equal(oauth_store_where(st), want);
	oauth_store_close(st);
}

static void test_default_path(void **state)
{
	struct account *a = conf_account_new("my/acct");
	char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
	struct passwd *pw = getpwuid(getuid());
	char want[600];

	(void)state;
	assert_non_null(a);
	assert_int_equal(setenv("HOME", "/home/tester", 1), 0);
	assert_int_equal(setenv("XDG_STATE_HOME", "/xdg/state", 1), 0);
	test_where(a, "the file /xdg/state/msmtp/oauth2/my%2Facct.json");
	/* relative or empty XDG_STATE_HOME: ignored, as the spec says */
	assert_int_equal(setenv("XDG_STATE_HOME", "rel/state", 1), 0);
	test_where(a, "the file /home/tester/.local/state/msmtp/oauth2/"
		   "my%2Facct.json");
	assert_int_equal(setenv("XDG_STATE_HOME", "", 1), 0);
	test_where(a, "the file /home/tester/.local/state/msmtp/oauth2/"
		   "my%2Facct.json");
	unsetenv("XDG_STATE_HOME");
	test_where(a, "the file /home/tester/.local/state/msmtp/oauth2/"
		   "my%2Facct.json");
	/* no HOME: the passwd entry */
	unsetenv("HOME");
	if (pw != NULL) {
		snprintf(want, sizeof want, "the file %s/.local/state/msmtp/"
			 "oauth2/my%%2Facct.json", pw->pw_dir);
		test_where(a, want);
	}
	/* a chosen path is taken as it is */
	a->oauth2_token_store = strdup("/some/where/tokens.json");
	assert_non_null(a->oauth2_token_store);
	test_where(a, "the file /some/where/tokens.json");
	if (home != NULL)
		setenv("HOME", home, 1);
	free(home);
	conf_account_free(a);
}

/* A name too long for a file name: refused for the default file (the
 * message says what to do), fine with a chosen path. */
static void test_long_name(void **state)
{
	char name[OAUTH_STORE_NAME_MAX + 2];
	struct oauth_store *st = NULL;
	struct account *a;
	struct err e;

	(void)state;
	memset(name, 'n', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	a = conf_account_new(name);
	assert_non_null(a);
	err_init(&e);
	assert_int_equal(oauth_store_open(a, &st, &e), -1);
	assert_int_equal(e.code, ERR_CONFIG);
	assert_non_null(strstr(e.msg, "set oauth2_token_store"));
	a->oauth2_token_store = strdup("/x/tokens.json");
	assert_non_null(a->oauth2_token_store);
	err_init(&e);
	if (oauth_store_open(a, &st, &e) != 0)
		fail_msg("chosen path refused: %s", e.msg);
	assert_string_equal(oauth_store_where(st), "the file /x/tokens.json");
	oauth_store_close(st);
	conf_account_free(a);
}

static void test_keyring_store(void **state)
{
	struct account *a = conf_account_new("acct");
	struct oauth_store *st = NULL;
	struct err e;

	(void)state;
	assert_non_null(a);
	a->oauth2_token_store = strdup("keyring");
	assert_non_null(a->oauth2_token_store);
	err_init(&e);
#ifdef HAVE_LIBSECRET
	{
		struct oauth_tokens t = { 0 };
		char *bus = getenv("DBUS_SESSION_BUS_ADDRESS");
		char *disp = getenv("DISPLAY");
		char *savebus = bus ? strdup(bus) : NULL;
		char *savedisp = disp ? strdup(disp) : NULL;

		/* no session bus: the lookup fails cleanly, as an I/O error
		 * naming the keyring, and nothing is loaded */
		unsetenv("DBUS_SESSION_BUS_ADDRESS");
		unsetenv("DISPLAY");
		assert_int_equal(oauth_store_open(a, &st, &e), 0);
		assert_string_equal(oauth_store_where(st), "the keyring");
		assert_int_equal(oauth_store_load(st, &t, &e), -1);
		assert_int_equal(e.code, ERR_IOERR);
		assert_non_null(strstr(e.msg, "keyring"));
		assert_null(t.access);
		assert_null(t.refresh);
		oauth_store_close(st);
		if (savebus)
			setenv("DBUS_SESSION_BUS_ADDRESS", savebus, 1);
		if (savedisp)
			setenv("DISPLAY", savedisp, 1);
		free(savebus);
		free(savedisp);
	}
#else
	assert_int_equal(oauth_store_open(a, &st, &e), -1);
	assert_int_equal(e.code, ERR_CONFIG);
	assert_non_null(strstr(e.msg, "libsecret"));
#endif
	conf_account_free(a);
}

/* ---- saving and loading ------------------------------------------------ */

static void test_round_trip(void **state)
{
	struct oauth_tokens t = { 0 };
	struct tenv env;
	struct err e;
	char *acc = test_token(3000, 1), *ref = test_token(3000, 2);
	char path[600];

	(void)state;
	test_env_open(&env, "work");
	err_init(&e);
	/* nothing yet: no directory at all */
	assert_int_equal(oauth_store_load(env.st, &t, &e), 0);
	assert_false(err_isset(&e));
	test_save(env.st, acc, ref, 1800000000LL);
	assert_int_equal(oauth_store_load(env.st, &t, &e), 1);
	assert_non_null(t.access);
	assert_non_null(t.refresh);
	assert_int_equal(t.access->len, 3000);
	assert_int_equal(t.refresh->len, 3000);
	assert_memory_equal(t.access->p, acc, 3000);
	assert_memory_equal(t.refresh->p, ref, 3000);
	assert_true(t.expires_at == 1800000000LL);
	/* the bytes on disk: our format, nothing else */
	assert_non_null(strstr(test_read_file(env.file),
			       "{\"version\":1,\"account\":\"work\","));
	/* the store's directory and its created parents are private */
	assert_int_equal(test_mode(env.dir), 0700);
	snprintf(path, sizeof path, "%s/msmtp", env.state);
	assert_int_equal(test_mode(path), 0700);
	assert_int_equal(test_mode(env.state), 0700);
	assert_int_equal(test_mode(env.file), 0600);
	/* nothing but the file is left behind */
	assert_string_equal(test_list(env.dir), "work.json");
	/* loading again into the loaded tokens replaces them */
	assert_int_equal(oauth_store_load(env.st, &t, &e), 1);
	assert_int_equal(t.access->len, 3000);
	oauth_tokens_clear(&t);
	assert_null(t.access);
	assert_null(t.refresh);
	assert_true(t.expires_at == 0);
	free(acc);
	free(ref);
	test_env_close(&env);
}

/* Absent tokens, escapes in tokens and in the account name, unknown keys
 * and whitespace in a file written by someone else. */
static void test_round_trip_details(void **state)
{
	struct oauth_tokens t = { 0 };
	struct tenv env;
	struct err e;
	const char *odd = "a\"b\\c/d e~";

	(void)state;
	test_env_open(&env, "we\"ird\\na\tme");
	err_init(&e);
	test_save(env.st, NULL, odd, 0);
	assert_int_equal(oauth_store_load(env.st, &t, &e), 1);
	assert_null(t.access);
	assert_string_equal(t.refresh->p, odd);
	assert_true(t.expires_at == 0);
	assert_non_null(strstr(test_read_file(env.file),
			       "\"account\":\"we\\\"ird\\\\na\\u0009me\""));
	test_save(env.st, "only-access", NULL, 5);
	assert_int_equal(oauth_store_load(env.st, &t, &e), 1);
	assert_string_equal(t.access->p, "only-access");
	assert_null(t.refresh);
	assert_true(t.expires_at == 5);
	oauth_tokens_clear(&t);
	test_env_close(&env);

	test_env_open(&env, "x");
	test_save(env.st, "a", NULL, 0);        /* creates the directory */
	test_write_file(env.file, " \n{ \"expires_at\" : 7, \"future\": [1, {}],"
			" \"version\": 1, \"account\": \"x\", \"refresh_token\":"
			" \"r\\/1\", \"access_token\": null }\n\n", 0, 0600);
	assert_int_equal(oauth_store_load(env.st, &t, &e), 1);
	assert_null(t.access);
	assert_string_equal(t.refresh->p, "r/1");
	assert_true(t.expires_at == 7);
	oauth_tokens_clear(&t);
	test_env_close(&env);
}

/* A store path of one's choice: its directories are created private, the
 * lock file sits next to it. */
static void test_chosen_path(void **state)
{
	struct oauth_tokens t = { 0 };
	struct tenv env;
	struct oauth_store *st = NULL;
	char path[700], dir[600];
	struct err e;

	(void)state;
	test_env_open(&env, "acct");
	snprintf(dir, sizeof dir, "%s/my/tokens", env.top);
	snprintf(path, sizeof path, "%s/acct.tok", dir);
	env.a->oauth2_token_store = strdup(path);
	assert_non_null(env.a->oauth2_token_store);
	err_init(&e);
	assert_int_equal(oauth_store_open(env.a, &st, &e), 0);
	test_save(st, "A", "R", 9);
	assert_int_equal(oauth_store_load(st, &t, &e), 1);
	assert_string_equal(t.access->p, "A");
	assert_int_equal(test_mode(dir), 0700);
	assert_int_equal(test_mode(path), 0600);
	assert_int_equal(oauth_store_lock(st, 0, &e), 0);
	assert_string_equal(test_list(dir), "acct.tok acct.tok.lock");
	oauth_store_unlock(st);
	oauth_store_close(st);
	oauth_tokens_clear(&t);
	/* the default location was not touched */
	assert_int_equal(access(env.state, F_OK), -1);
	test_env_close(&env);
}

/* Saving over an existing file: the new content, still 0600 even when the
 * old file had been opened up or the umask is odd; nothing left over. */
static void test_save_over_existing(void **state)
{
	struct oauth_tokens t = { 0 };
	struct tenv env;
	struct err e;
	mode_t old;

	(void)state;
	test_env_open(&env, "acct");
	test_save(env.st, "one", "r1", 1);
	assert_int_equal(chmod(env.file, 0644), 0);
	test_save(env.st, "two", "r2", 2);
	assert_int_equal(test_mode(env.file), 0600);
	old = umask(0277);
	test_save(env.st, "three", "r3", 3);
	umask(old);
	assert_int_equal(test_mode(env.file), 0600);
	assert_string_equal(test_list(env.dir), "acct.json");
	err_init(&e);
	assert_int_equal(oauth_store_load(env.st, &t, &e), 1);
	assert_string_equal(t.access->p, "three");
	assert_string_equal(t.refresh->p, "r3");
	oauth_tokens_clear(&t);
	test_env_close(&env);

	/* an odd umask when the directories are created */
	test_env_open(&env, "acct");
	old = umask(0277);
	test_save(env.st, "one", "r1", 1);
	umask(old);
	assert_int_equal(test_mode(env.state), 0700);
	assert_int_equal(test_mode(env.dir), 0700);
	assert_int_equal(test_mode(env.file), 0600);
	test_env_close(&env);
}

/* A symbolic link planted as the store's name is replaced, never written
 * through. */
static void test_save_planted_link(void **state)
{
	struct tenv env;
	char victim[600];

	(void)state;
	test_env_open(&env, "acct");
	test_save(env.st, "one", NULL, 0);
	snprintf(victim, sizeof victim, "%s/victim", env.top);
	test_write_file(victim, "precious\n", 9, 0644);
	assert_int_equal(unlink(env.file), 0);
	assert_int_equal(symlink(victim, env.file), 0);
	test_save(env.st, "two", NULL, 0);
	assert_string_equal(test_read_file(victim), "precious\n");
	assert_int_equal(test_mode(victim), 0644);
	assert_int_equal(test_mode(env.file), 0600);    /* lstat: a file now */
	test_env_close(&env);
}

/* A failing fsync: an I/O error, the old tokens intact, no temporary file
 * and no descriptor left. */
static void test_save_failure(void **state)
{
	struct oauth_tokens t = { 0 };
	struct tenv env;
	struct err e;
	int before, n;

	(void)state;
	for (n = 1; n <= 2; n++) {      /* the file's fsync, the directory's */
		test_env_open(&env, "acct");
		test_save(env.st, "old", "r", 1);
		test_tokens(&t, "new", "r", 2);
		before = test_lowest_free_fd();
		fsync_calls = 0;
		fsync_fail_at = n;
		err_init(&e);
		assert_int_equal(oauth_store_save(env.st, &t, &e), -1);
		fsync_fail_at = 0;
		oauth_tokens_clear(&t);
		assert_int_equal(e.code, ERR_IOERR);
		assert_non_null(strstr(e.msg, env.file));
		assert_non_null(strstr(e.msg, "Input/output error"));
		assert_int_equal(test_lowest_free_fd(), before);
		assert_string_equal(test_list(env.dir), "acct.json");
		err_init(&e);
		assert_int_equal(oauth_store_load(env.st, &t, &e), 1);
		/* the directory's fsync comes after the rename */
		assert_string_equal(t.access->p, n == 1 ? "old" : "new");
		oauth_tokens_clear(&t);
		test_env_close(&env);
	}
}

struct bad_tokens_row {
	const char *name;
	const char *access;
	size_t access_len;      /* 0: strlen */
	long long expires_at;
};

static void test_save_refuses_bad_tokens(void **state)
{
	static const struct bad_tokens_row rows[] = {
		{ "empty", "", 0, 0 },
		{ "newline", "ab\ncd", 0, 0 },
		{ "NUL", "ab\0cd", 5, 0 },
		{ "DEL", "ab\x7f", 0, 0 },
		{ "8-bit", "ab\xc3\xa9", 0, 0 },
		{ "negative expiry", "ab", 0, -1 },
	};
	struct oauth_tokens t;
	struct tenv env;
	struct err e;
	size_t i;

	(void)state;
	test_env_open(&env, "acct");
	test_save(env.st, "good", NULL, 0);
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct bad_tokens_row *r = &rows[i];
		size_t len = r->access_len ? r->access_len : strlen(r->access);

		memset(&t, 0, sizeof t);
		t.access = secret_new(r->access, len);
		assert_non_null(t.access);
		t.expires_at = r->expires_at;
		err_init(&e);
		if (oauth_store_save(env.st, &t, &e) != -1
		    || e.code != ERR_SOFTWARE)
			fail_msg("%s: not refused (%s)", r->name, e.msg);
		oauth_tokens_clear(&t);
	}
	assert_non_null(strstr(test_read_file(env.file), "\"good\""));
	assert_string_equal(test_list(env.dir), "acct.json");
	test_env_close(&env);
}

/* ---- what loading refuses ----------------------------------------------- */

#define GOODJ "{\"version\":1,\"account\":\"acct\",\"access_token\":\"a\"," \
	"\"refresh_token\":\"r\",\"expires_at\":5}"

#define RAWNUL "{\"version\":1,\"account\":\"acct\",\"access_token\":\"a\0b\"}"

struct damaged_row {
	const char *name;
	const char *text;
	size_t len;             /* 0: strlen */
	const char *why;        /* in the message's parentheses */
};

static const struct damaged_row damaged_rows[] = {
	{ "empty file", "", 0, "empty" },
	{ "not JSON", "access_token=abc\n", 0, "unexpected character" },
	{ "cut short", "{\"version\":1,\"account\":\"acct\",\"access_tok", 0,
	  "cut short" },
	{ "trailing text", GOODJ "x", 0, "text after" },
	{ "two objects", GOODJ GOODJ, 0, "text after" },
	{ "an array", "[" GOODJ "]", 0, "not a JSON object" },
	{ "a string", "\"version\"", 0, "not a JSON object" },
	{ "no version", "{\"account\":\"acct\",\"access_token\":\"a\"}", 0,
	  "no version 1" },
	{ "version 2", "{\"version\":2,\"account\":\"acct\"}", 0,
	  "no version 1" },
	{ "version as text", "{\"version\":\"1\",\"account\":\"acct\"}", 0,
	  "no version 1" },
	{ "version 1.0", "{\"version\":1.0,\"account\":\"acct\"}", 0,
	  "no version 1" },
	{ "no account", "{\"version\":1,\"access_token\":\"a\"}", 0,
	  "no account name" },
	{ "account a number", "{\"version\":1,\"account\":7}", 0,
	  "no account name" },
	{ "token a number", "{\"version\":1,\"account\":\"acct\","
	  "\"access_token\":12}", 0, "access_token is not a string" },
	{ "token an object", "{\"version\":1,\"account\":\"acct\","
	  "\"refresh_token\":{}}", 0, "refresh_token is not a string" },
	{ "empty token", "{\"version\":1,\"account\":\"acct\","
	  "\"access_token\":\"\"}", 0, "access_token is an empty token" },
	{ "control byte", "{\"version\":1,\"account\":\"acct\","
	  "\"access_token\":\"a\\u0001b\"}", 0,
	  "access_token is a token with a control" },
	{ "8-bit byte", "{\"version\":1,\"account\":\"acct\","
	  "\"access_token\":\"a\xc3\xa9\"}", 0,
	  "access_token is a token with a control or non-ASCII" },
	{ "DEL", "{\"version\":1,\"account\":\"acct\","
	  "\"access_token\":\"a\x7f\"}", 0,
	  "access_token is a token with a control" },
	{ "newline", "{\"version\":1,\"account\":\"acct\","
	  "\"refresh_token\":\"a\\nb\"}", 0,
	  "refresh_token is a token with a control" },
	{ "escaped NUL", "{\"version\":1,\"account\":\"acct\","
	  "\"access_token\":\"a\\u0000b\"}", 0,
	  "access_token is a token with a control" },
	{ "raw NUL", RAWNUL, sizeof RAWNUL - 1, "a NUL byte" },
	{ "negative expiry", "{\"version\":1,\"account\":\"acct\","
	  "\"expires_at\":-1}", 0, "expires_at is not a time" },
	{ "fractional expiry", "{\"version\":1,\"account\":\"acct\","
	  "\"expires_at\":1.5}", 0, "expires_at is not a time" },
	{ "expiry as text", "{\"version\":1,\"account\":\"acct\","
	  "\"expires_at\":\"5\"}", 0, "expires_at is not a time" },
	{ "too deep", "{\"version\":1,\"account\":\"acct\",\"x\":"
	  "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
	  "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
	  0, "nesting too deep" },
};

static void test_expect_damaged(struct tenv *env, const char *name,
				const char *why)
{
	struct oauth_tokens t = { 0 };
	struct err e;

	err_init(&e);
	if (oauth_store_load(env->st, &t, &e) != -1)
		fail_msg("%s: accepted", name);
	if (getenv("TEST_SHOW"))
		print_message("%s: %s\n", name, e.msg);
	if (e.code != ERR_CONFIG || strstr(e.msg, env->file) == NULL
	    || strstr(e.msg, "damaged") == NULL || strstr(e.msg, why) == NULL
	    || strstr(e.msg, "log in again with msmtp --oauth2-login") == NULL)
		fail_msg("%s: wrong error %d: %s", name, e.code, e.msg);
	assert_null(t.access);
	assert_null(t.refresh);
}

static void test_damaged(void **state)
{
	struct tenv env;
	size_t i;

	(void)state;
	test_env_open(&env, "acct");
	test_save(env.st, "x", NULL, 0);
	for (i = 0; i < sizeof damaged_rows / sizeof damaged_rows[0]; i++) {
		const struct damaged_row *r = &damaged_rows[i];

		test_write_file(env.file, r->text,
				r->len ? r->len : strlen(r->text), 0600);
		test_expect_damaged(&env, r->name, r->why);
	}
	test_env_close(&env);
}

/* Tokens just over SECRET_MAX, and a file over the size limit. */
static void test_damaged_oversized(void **state)
{
	struct oauth_tokens t = { 0 };
	struct tenv env;
	struct err e;
	char *tok = test_token(SECRET_MAX, 3), *text;
	size_t n;

	(void)state;
	test_env_open(&env, "acct");
	test_save(env.st, tok, tok, 0);         /* SECRET_MAX is allowed */
	err_init(&e);
	assert_int_equal(oauth_store_load(env.st, &t, &e), 1);
	assert_int_equal(t.access->len, SECRET_MAX);
	oauth_tokens_clear(&t);
	free(tok);

	tok = malloc(SECRET_MAX + 2);   /* no '"' or '\\' to escape */
	assert_non_null(tok);
	memset(tok, 'k', SECRET_MAX + 1);
	tok[SECRET_MAX + 1] = '\0';
	n = strlen(tok) + 100;
	text = malloc(n);
	assert_non_null(text);
	n = (size_t)snprintf(text, n, "{\"version\":1,\"account\":\"acct\","
			     "\"access_token\":\"%s\"}", tok);
	test_write_file(env.file, text, n, 0600);
	test_expect_damaged(&env, "token over SECRET_MAX",
			    "access_token is a token that is too long");
	free(text);
	free(tok);

	n = OAUTH_STORE_TEXT_MAX + 1;
	text = malloc(n);
	assert_non_null(text);
	memset(text, ' ', n);
	memcpy(text, GOODJ, strlen(GOODJ));
	test_write_file(env.file, text, n, 0600);
	test_expect_damaged(&env, "file over the size limit", "too large");
	free(text);
	test_env_close(&env);
}

/* The file of another account (a shared oauth2_token_store): names that
 * differ in length, in one byte, in case, or only after a NUL. */
static void test_other_account(void **state)
{
	static const char *const others[][2] = {
		{ "other", "account other," },
		{ "acc2", "account acc2," },
		{ "ACCT", "account ACCT," },
		{ "acct\\u0000x", "account acct\\x00x," },
	};
	struct oauth_tokens t = { 0 };
	struct tenv env;
	struct err e;
	char text[200];
	size_t i;

	(void)state;
	test_env_open(&env, "acct");
	test_save(env.st, "x", NULL, 0);
	for (i = 0; i < sizeof others / sizeof others[0]; i++) {
		snprintf(text, sizeof text, "{\"version\":1,\"account\":\"%s\","
			 "\"access_token\":\"a\"}", others[i][0]);
		test_write_file(env.file, text, 0, 0600);
		err_init(&e);
		if (oauth_store_load(env.st, &t, &e) != -1)
			fail_msg("account %s: accepted", others[i][0]);
		if (e.code != ERR_CONFIG || strstr(e.msg, others[i][1]) == NULL
		    || strstr(e.msg, env.file) == NULL)
			fail_msg("account %s: %s", others[i][0], e.msg);
		assert_null(t.access);
	}
	test_env_close(&env);
}

enum unsafe_kind { U_LINK, U_MODE, U_FIFO, U_DIR, U_DIRMODE, U_OWNER,
		   U_DIROWNER };

struct unsafe_row {
	const char *name;
	enum unsafe_kind kind;
	mode_t mode;
	const char *says;       /* must be in the message */
};

static const struct unsafe_row unsafe_rows[] = {
	{ "symbolic link", U_LINK, 0, "symbolic link" },
	{ "0644 file", U_MODE, 0644, "chmod 600" },
	{ "0640 file", U_MODE, 0640, "chmod 600" },
	{ "0602 file", U_MODE, 0602, "chmod 600" },
	{ "0620 file", U_MODE, 0620, "chmod 600" },
	{ "a FIFO", U_FIFO, 0600, "not a regular file" },
	{ "a directory", U_DIR, 0700, "not a regular file" },
	{ "directory 0777", U_DIRMODE, 0777, "chmod go-w" },
	{ "directory 0702", U_DIRMODE, 0702, "chmod go-w" },
	{ "directory 0720", U_DIRMODE, 0720, "chmod go-w" },
	{ "file of another user", U_OWNER, 0600, "does not belong to you" },
	{ "directory of another user", U_DIROWNER, 0700,
	  "does not belong to you" },
};

/* Make the store file (or its directory) unsafe the way row r says.
 * 0: done; 1: not possible here (needs root). */
static int test_make_unsafe(const struct tenv *env, const struct unsafe_row *r)
{
	char real[600];
	struct passwd *nobody = getpwnam("nobody");

	switch (r->kind) {
	case U_LINK:
		snprintf(real, sizeof real, "%s/real.json", env->top);
		assert_int_equal(rename(env->file, real), 0);
		assert_int_equal(symlink(real, env->file), 0);
		return 0;
	case U_MODE:
		assert_int_equal(chmod(env->file, r->mode), 0);
		return 0;
	case U_FIFO:
		assert_int_equal(unlink(env->file), 0);
		assert_int_equal(mkfifo(env->file, r->mode), 0);
		return 0;
	case U_DIR:
		assert_int_equal(unlink(env->file), 0);
		assert_int_equal(mkdir(env->file, r->mode), 0);
		return 0;
	case U_DIRMODE:
		assert_int_equal(chmod(env->dir, r->mode), 0);
		return 0;
	case U_OWNER:
	case U_DIROWNER:
		if (geteuid() != 0 || nobody == NULL)
			return 1;
		assert_int_equal(chown(r->kind == U_OWNER ? env->file : env->dir,
				       nobody->pw_uid, nobody->pw_gid), 0);
		return 0;
	}
	return 1;
}

static void test_unsafe(void **state)
{
	size_t i, skipped = 0;

	(void)state;
	for (i = 0; i < sizeof unsafe_rows / sizeof unsafe_rows[0]; i++) {
		const struct unsafe_row *r = &unsafe_rows[i];
		struct oauth_tokens t = { 0 };
		struct tenv env;
		struct err e;
		double t0;

		test_env_open(&env, "acct");
		test_save(env.st, "secret-token", NULL, 0);
		if (test_make_unsafe(&env, r)) {
			skipped++;
			test_env_close(&env);
			continue;
		}
		err_init(&e);
		t0 = test_now();
		if (oauth_store_load(env.st, &t, &e) != -1)
			fail_msg("%s: accepted", r->name);
		if (getenv("TEST_SHOW"))
			print_message("%s: %s\n", r->name, e.msg);
		if (e.code != ERR_CONFIG || strstr(e.msg, r->says) == NULL)
			fail_msg("%s: wrong error %d: %s", r->name, e.code, e.msg);
		/* a FIFO must not block the open */
		assert_true(test_now() - t0 < 5.0);
		assert_null(t.access);
		test_env_close(&env);
	}
	if (skipped)
		print_message("%zu ownership rows need root: skipped\n", skipped);
}

/* Nothing stored: a missing directory, a missing file, an unrelated file
 * in the directory. */
static void test_nothing_stored(void **state)
{
	struct oauth_tokens t = { 0 };
	struct tenv env;
	struct err e;
	char path[600];

	(void)state;
	test_env_open(&env, "acct");
	err_init(&e);
	assert_int_equal(oauth_store_load(env.st, &t, &e), 0);
	assert_int_equal(mkdir(env.state, 0700), 0);
	assert_int_equal(oauth_store_load(env.st, &t, &e), 0);
	snprintf(path, sizeof path, "%s/msmtp", env.state);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(mkdir(env.dir, 0700), 0);
	assert_int_equal(oauth_store_load(env.st, &t, &e), 0);
	snprintf(path, sizeof path, "%s/other.json", env.dir);
	test_write_file(path, GOODJ, strlen(GOODJ), 0600);
	assert_int_equal(oauth_store_load(env.st, &t, &e), 0);
	assert_false(err_isset(&e));
	/* loading created nothing */
	assert_string_equal(test_list(env.dir), "other.json");
	test_env_close(&env);
}

/* ---- the lock ----------------------------------------------------------- */

/* Child: lock the store, say so on `ready`, wait for a byte on `go`,
 * unlock.  Exit status 0 on success. */
static void test_child_hold(const struct account *a, int ready, int go)
{
	struct oauth_store *st = NULL;
	struct err e;
	char c = 'L';

	err_init(&e);
	if (oauth_store_open(a, &st, &e) != 0 || oauth_store_lock(st, 0, &e) != 0)
		_exit(1);
	if (write(ready, &c, 1) != 1 || read(go, &c, 1) != 1)
		_exit(2);
	oauth_store_unlock(st);
	oauth_store_close(st);
	_exit(0);
}

static void test_lock_exclusion(void **state)
{
	int ready[2], go[2], status;
	struct tenv env;
	struct err e;
	double t0, waited;
	pid_t pid;
	char c;

	(void)state;
	test_env_open(&env, "acct");
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		test_child_hold(env.a, ready[1], go[0]);
	}
	close(ready[1]);
	close(go[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	/* the lock file was created next to the store, in a private dir */
	assert_string_equal(test_list(env.dir), "acct.json.lock");
	assert_int_equal(test_mode(env.dir), 0700);
	err_init(&e);
	t0 = test_now();
	assert_int_equal(oauth_store_lock(env.st, 1, &e), -1);
	waited = test_now() - t0;
	assert_int_equal(e.code, ERR_TEMPFAIL);
	assert_non_null(strstr(e.msg, "another msmtp is refreshing"));
	assert_true(waited >= 0.9);
	/* no waiting at all with timeout 0 */
	err_init(&e);
	assert_int_equal(oauth_store_lock(env.st, 0, &e), -1);
	assert_int_equal(e.code, ERR_TEMPFAIL);
	/* the child lets go while we wait: we get it */
	assert_int_equal(write(go[1], "u", 1), 1);
	err_init(&e);
	if (oauth_store_lock(env.st, 5, &e) != 0)
		fail_msg("lock after release: %s", e.msg);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* locking again through the same handle is a no-op; unlock frees */
	assert_int_equal(oauth_store_lock(env.st, 0, &e), 0);
	oauth_store_unlock(env.st);
	oauth_store_unlock(env.st);
	assert_int_equal(oauth_store_lock(env.st, 0, &e), 0);
	oauth_store_unlock(env.st);
	close(ready[0]);
	close(go[1]);
	test_env_close(&env);
}

/* Child: the caller's protocol - lock, reload, "refresh" only when no
 * token is stored yet (counting refreshes in a file), save, unlock. */
static void test_child_refresh(const struct account *a, const char *count)
{
	struct oauth_tokens t = { 0 };
	struct oauth_store *st = NULL;
	struct err e;
	int r, fd;

	err_init(&e);
	if (oauth_store_open(a, &st, &e) != 0 || oauth_store_lock(st, 10, &e) != 0)
		_exit(1);
	r = oauth_store_load(st, &t, &e);
	if (r < 0)
		_exit(2);
	if (r == 0) {
		fd = open(count, O_WRONLY | O_APPEND | O_CREAT, 0600);
		if (fd < 0 || write(fd, "r", 1) != 1)
			_exit(3);
		close(fd);
		usleep(100000);         /* a slow token endpoint */
		t.access = secret_new("fresh", 5);
		if (t.access == NULL || oauth_store_save(st, &t, &e) != 0)
			_exit(4);
	}
	oauth_tokens_clear(&t);
	oauth_store_close(st);          /* unlocks */
	_exit(0);
}

static void test_refresh_once(void **state)
{
	struct tenv env;
	char count[600];
	pid_t pids[4];
	int i, status;

	(void)state;
	test_env_open(&env, "acct");
	snprintf(count, sizeof count, "%s/refreshes", env.top);
	for (i = 0; i < 4; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0)
			test_child_refresh(env.a, count);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("child %d: status %d", i, status);
	}
	assert_string_equal(test_read_file(count), "r");
	test_env_close(&env);
}

/* A lock file planted as a link is not followed. */
static void test_lock_planted_link(void **state)
{
	struct tenv env;
	struct err e;
	char lock[800], victim[600];

	(void)state;
	test_env_open(&env, "acct");
	test_save(env.st, "x", NULL, 0);
	snprintf(lock, sizeof lock, "%s.lock", env.file);
	snprintf(victim, sizeof victim, "%s/victim", env.top);
	assert_int_equal(symlink(victim, lock), 0);
	err_init(&e);
	assert_int_equal(oauth_store_lock(env.st, 0, &e), -1);
	assert_int_equal(e.code, ERR_CANTCREAT);
	assert_int_equal(access(victim, F_OK), -1);
	test_env_close(&env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_names),
		cmocka_unit_test(test_file_name_limits),
		cmocka_unit_test(test_default_path),
		cmocka_unit_test(test_long_name),
		cmocka_unit_test(test_keyring_store),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_round_trip_details),
		cmocka_unit_test(test_chosen_path),
		cmocka_unit_test(test_save_over_existing),
		cmocka_unit_test(test_save_planted_link),
		cmocka_unit_test(test_save_failure),
		cmocka_unit_test(test_save_refuses_bad_tokens),
		cmocka_unit_test(test_damaged),
		cmocka_unit_test(test_damaged_oversized),
		cmocka_unit_test(test_other_account),
		cmocka_unit_test(test_unsafe),
		cmocka_unit_test(test_nothing_stored),
		cmocka_unit_test(test_lock_exclusion),
		cmocka_unit_test(test_refresh_once),
		cmocka_unit_test(test_lock_planted_link),
	};

	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
