/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ext_open - the checked open of a module file (ext.h), apart from the
 * loader so that the unit tests reach it. */
#include "config.h"
#include "ext.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Who may have written the file or its directory: root or ourselves;
 * nobody through "other" write permission, and through group write
 * permission only root's group or our own (a tree unpacked by root keeps
 * its archive's 0775 directories). */
static int ext_open_trusted(const struct stat *st, const char *what,
			    const char *path, struct err *e)
{
	uid_t me = geteuid();

	if (st->st_uid != 0 && st->st_uid != me)
		return err_set(e, ERR_UNAVAILABLE, "cannot load %s: %s is "
			       "owned by uid %ld, neither root nor uid %ld",
			       path, what, (long)st->st_uid, (long)me);
	if ((st->st_mode & S_IWOTH) || ((st->st_mode & S_IWGRP)
					 && st->st_gid != 0
					 && st->st_gid != getegid()))
		return err_set(e, ERR_UNAVAILABLE, "cannot load %s: %s is "
			       "writable by %s", path, what,
			       (st->st_mode & S_IWOTH) ? "others"
			       : "another group");
	return 0;
}

/* Open the module's directory, check it, then the file inside it
 * without following a link: the descriptor returned is the checked
 * file. */
int ext_open_module(const char *path, struct err *e)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t dlen = slash ? (size_t)(slash - path) : 0;
	struct stat st;
	int dfd, fd;

	if (slash == NULL || dlen == 0 || dlen >= sizeof dir)
		return err_set(e, ERR_UNAVAILABLE, "cannot load %s: not an "
			       "absolute path", path);
	memcpy(dir, path, dlen);
	dir[dlen] = '\0';
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return err_set(e, ERR_UNAVAILABLE, "cannot load %s: %s", path,
			       strerror(errno));
	if (fstat(dfd, &st) < 0 || ext_open_trusted(&st, "its directory",
						     path, e) < 0) {
		close(dfd);
		return err_set(e, ERR_UNAVAILABLE, "cannot load %s: %s", path,
			       strerror(errno));
	}
	fd = openat(dfd, slash + 1, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(dfd);
	if (fd < 0)
		return err_set(e, ERR_UNAVAILABLE, "cannot load %s: %s", path,
			       strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)
	    || ext_open_trusted(&st, "the file", path, e) < 0) {
		close(fd);
		return err_set(e, ERR_UNAVAILABLE, "cannot load %s: not a "
			       "regular file", path);
	}
	return fd;
}
