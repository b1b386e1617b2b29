#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Automake test script: the fake-server integration cases.
# top_srcdir and MSMTP come from tests/Makefile.am; when run by hand they
# default to paths relative to this script.  Exit 0 pass, 1 fail, 77 skip.
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$here/../..}"
: "${MSMTP:=$top_srcdir/src/msmtp}"
case ${PYTHON3:-no} in
no) PYTHON3=python3 ;;
esac
if ! command -v "$PYTHON3" >/dev/null 2>&1; then
	echo "SKIP: python3 not found"
	exit 77
fi
exec "$PYTHON3" "$top_srcdir/tests/integration/run.py" --msmtp "$MSMTP"
