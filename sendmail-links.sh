#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# sendmail-links.sh install|uninstall DESTDIR BINDIR SBINDIR PROG
#
# Run by make install (--enable-sendmail-links or SENDMAIL_LINKS=yes) and
# make uninstall: SBINDIR/sendmail, BINDIR/mailq and BINDIR/newaliases as
# relative symbolic links to BINDIR/PROG, under DESTDIR.  The binary
# chooses its behaviour by the name it is called by (README "Installing as
# sendmail").  Relative, so that the installed tree may be moved or
# packaged (DESTDIR is never part of a link).
#
# A name that is taken by anything but a link to PROG (a packaged MTA's
# sendmail, a link to another program) is neither replaced nor removed:
# install fails and says so, uninstall leaves it and says so.
set -u

if [ $# -ne 5 ]; then
	echo "usage: $0 install|uninstall DESTDIR BINDIR SBINDIR PROG" >&2
	exit 64
fi
action=$1 destdir=$2 bindir=$3 sbindir=$4 prog=$5

# Strip trailing slashes (a lone "/" stays).
links_clean() {
	p=$1
	while [ "${p%/}" != "$p" ] && [ "$p" != / ]; do
		p=${p%/}
	done
	printf '%s\n' "$p"
}

# The path of file $2 relative to directory $1 (both absolute): up from
# $1 to the deepest directory holding $2, then down.
links_relpath() {
	from=$(links_clean "$1")
	to=$(links_clean "$2")
	up=
	common=$from
	while [ "$common" != / ]; do
		case $to in
		"$common"/*) break ;;
		esac
		common=$(dirname "$common")
		up="../$up"
	done
	if [ "$common" = / ]; then
		printf '%s%s\n' "$up" "${to#/}"
	else
		printf '%s%s\n' "$up" "${to#"$common"/}"
	fi
}

# Whether $1 is a symbolic link whose target names PROG.
links_ours() {
	[ -L "$1" ] || return 1
	target=$(readlink "$1") || return 1
	[ "$(basename "$target")" = "$prog" ]
}

links_install_one() {
	dir=$1 name=$2
	link="$destdir$dir/$name"
	rel=$(links_relpath "$dir" "$bindir/$prog")
	if { [ -e "$link" ] || [ -L "$link" ]; } && ! links_ours "$link"; then
		echo "sendmail-links.sh: not replacing $link: it is not a link" \
			"to $prog (another MTA's?); remove it first, or see README," \
			"\"Installing as sendmail\"" >&2
		return 1
	fi
	mkdir -p "$destdir$dir" || return 1
	rm -f "$link" && ln -s "$rel" "$link" || return 1
	echo "  LN       $link -> $rel"
}

links_uninstall_one() {
	link="$destdir$1/$2"
	if links_ours "$link"; then
		rm -f "$link" || return 1
	elif [ -e "$link" ] || [ -L "$link" ]; then
		echo "sendmail-links.sh: leaving $link: not a link to $prog" >&2
	fi
	return 0
}

status=0
case $action in
install)
	links_install_one "$sbindir" sendmail || status=1
	links_install_one "$bindir" mailq || status=1
	links_install_one "$bindir" newaliases || status=1 ;;
uninstall)
	links_uninstall_one "$sbindir" sendmail || status=1
	links_uninstall_one "$bindir" mailq || status=1
	links_uninstall_one "$bindir" newaliases || status=1 ;;
*)
	echo "sendmail-links.sh: unknown action '$action'" >&2
	exit 64 ;;
esac
exit $status
