#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Flushing N queued small messages over one connection versus N separate
# sends, side by side (run on request, never in make check):
#   bench/queue.sh [N]            (default 1000)
# Compares: N runs of this msmtp, N runs of the system's msmtp (when
# /usr/bin/msmtp or $REAL_MSMTP exists), and one 'msmtp -q' over N
# messages queued beforehand with -odq.  Loopback sink only.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
ours=${MSMTP:-$here/../src/msmtp}
real=${REAL_MSMTP:-/usr/bin/msmtp}
n=${1:-1000}
. "$here/lib.sh"
printf 'account default\nhost 127.0.0.1\nport %s\nfrom a@example.org\ntls off\nqueue tempfail\nqueue_dir %s/queue\n' \
	"$port" "$tmp" > "$tmp/rc"
chmod 600 "$tmp/rc"
printf 'From: a@example.org\nTo: b@example.org\nSubject: bench\n\nhello\n' > "$tmp/msg"

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc; }

t0=$(now)
i=0; while [ $i -lt "$n" ]; do "$ours" -C "$tmp/rc" b@example.org < "$tmp/msg"; i=$((i+1)); done
t1=$(now)
sep_ours=$(elapsed "$t0" "$t1")
echo "this msmtp, $n separate sends:   ${sep_ours}s"

if [ -x "$real" ]; then
	printf 'account default\nhost 127.0.0.1\nport %s\nfrom a@example.org\n' "$port" > "$tmp/realrc"
	chmod 600 "$tmp/realrc"
	t0=$(now)
	i=0; while [ $i -lt "$n" ]; do "$real" -C "$tmp/realrc" b@example.org < "$tmp/msg"; i=$((i+1)); done
	t1=$(now)
	sep_real=$(elapsed "$t0" "$t1")
	echo "$("$real" --version | head -1), $n separate sends: ${sep_real}s"
fi

i=0; while [ $i -lt "$n" ]; do "$ours" -C "$tmp/rc" -odq b@example.org < "$tmp/msg"; i=$((i+1)); done
t0=$(now)
"$ours" -C "$tmp/rc" -q
t1=$(now)
flush=$(elapsed "$t0" "$t1")
left=$(ls "$tmp/queue" | grep -c '\.env$' || true)
echo "this msmtp, one -q over $n queued messages: ${flush}s (left in queue: $left)"
echo "speed-up over separate sends of this msmtp: $(echo "scale=1; $sep_ours / $flush" | bc)x"
[ -n "${sep_real:-}" ] && echo "speed-up over separate sends of the system msmtp: $(echo "scale=1; $sep_real / $flush" | bc)x"
exit 0
