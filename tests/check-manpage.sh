#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# check-manpage.sh - msmtp(1) renders without a single warning.
#
# Two linters, each of which must print nothing on standard error:
#   man --warnings -E UTF-8 -l doc/msmtp.1    (man-db, as a user reads it)
#   groff -ww -z -man doc/msmtp.1             (every groff warning)
# Prints one PASS/FAIL line per linter and "N passed, N failed"; exits 77
# (SKIP) only when man or groff is not installed.
set -u

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
page=$srcdir/doc/msmtp.1

if ! command -v man >/dev/null 2>&1 || ! command -v groff >/dev/null 2>&1; then
	echo "SKIP: man and groff are needed (Debian: man-db groff-base)"
	exit 77
fi
if [ ! -r "$page" ]; then
	echo "FAIL: cannot read $page"
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/check-manpage.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

pass=0
fail=0

# check_lint NAME COMMAND...: the command must succeed and write nothing to
# standard error (its standard output, the rendered page, is discarded).
check_lint() {
	name=$1
	shift
	status=0
	"$@" >/dev/null 2>"$work/stderr" || status=$?
	if [ "$status" -eq 0 ] && [ ! -s "$work/stderr" ]; then
		echo "PASS $name"
		pass=$((pass + 1))
	else
		echo "FAIL $name (exit $status):"
		sed 's/^/    /' "$work/stderr"
		fail=$((fail + 1))
	fi
}

# A fixed width and no pager, so the result is the same everywhere.
check_lint "man --warnings -E UTF-8" env MANWIDTH=80 MANPAGER=cat PAGER=cat \
	LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l "$page"
check_lint "groff -ww -z -man" groff -ww -z -man "$page"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
