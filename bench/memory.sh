#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Peak memory of one send with a large body, piped (spills to a temporary
# file) and as a regular file (read in place).  Goal: peak RSS in
# single-digit MiB whatever the size.  Run on request:
#   bench/memory.sh [SIZE_MiB]   (default 1024 = 1 GiB)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
msmtp=${MSMTP:-$here/../src/msmtp}
mib=${1:-1024}
. "$here/lib.sh"
body() {
	printf 'From: a@example.org\nTo: b@example.org\nSubject: big\n\n'
	head -c $((mib * 1024 * 1024)) /dev/zero | tr '\0' 'x' | fold -w 76
}
echo "body: $mib MiB"
body | /usr/bin/time -f "piped stdin:        peak RSS %M KiB, %e s" \
	"$msmtp" --host=127.0.0.1 --port="$port" -f a@example.org b@example.org
body > "$tmp/msg"
/usr/bin/time -f "regular-file stdin: peak RSS %M KiB, %e s" \
	"$msmtp" --host=127.0.0.1 --port="$port" -f a@example.org b@example.org < "$tmp/msg"
