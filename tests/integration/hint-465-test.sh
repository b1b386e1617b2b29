#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The TLS-mode hint judged from silence: a server on port 465 that waits
# for our TLS handshake (it says nothing) while the account uses STARTTLS,
# or no TLS, gets "port 465 expects TLS from the start: ..." after the
# timeout error; the same silence on another port, or on 465 with TLS from
# the start, gets no hint.  Port 465 is bound in a private network
# namespace (unshare -n), so this needs root: SKIP (77) otherwise.
here=$(cd "$(dirname "$0")" && pwd)
msmtp=${MSMTP:-$here/../../src/msmtp}
py=${PYTHON3:-python3}
if [ "$(id -u)" -ne 0 ] || ! unshare -n true 2>/dev/null \
	|| ! command -v ip >/dev/null 2>&1; then
	echo "SKIP hint-465-test (needs root, unshare -n and ip)"
	exit 77
fi
[ -x "$msmtp" ] || { echo "SKIP no binary $msmtp"; exit 77; }
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/home"

# Inside the namespace: silent listeners on 465 and 2465, then each run's
# exit status and stderr into $tmp.
unshare -n env TMPD="$tmp" MSMTP_BIN="$msmtp" PY="$py" bash -c '
	ip link set lo up || exit 99
	"$PY" -c "
import socket, sys, time, os
ls = []
for port in (465, 2465):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((\"127.0.0.1\", port))
    s.listen(8)
    s.settimeout(0.2)
    ls.append(s)
open(os.path.join(sys.argv[1], \"ready\"), \"w\").close()
held = []
end = time.monotonic() + 30
while time.monotonic() < end:
    for s in ls:
        try:
            held.append(s.accept()[0])
        except socket.timeout:
            pass
" "$TMPD" &
	srv=$!
	for _ in $(seq 50); do [ -e "$TMPD/ready" ] && break; sleep 0.1; done
	one() { # name port options...
		local name=$1 port=$2
		shift 2
		printf "Subject: x\n\nbody\n" | HOME="$TMPD/home" "$MSMTP_BIN" \
			--host=127.0.0.1 --port="$port" --timeout=1 \
			--from=alice@example.org "$@" bob@example.org \
			2>"$TMPD/$name.err"
		echo $? >"$TMPD/$name.rc"
	}
	one starttls 465 --tls=on --tls-starttls=on
	one plain 465 --tls=off
	one implicit 465 --tls=on --tls-starttls=off
	one other 2465 --tls=on --tls-starttls=on
	kill $srv
	wait $srv 2>/dev/null
	exit 0
' || { echo "FAIL the namespace run"; echo "0 passed, 1 failed"; exit 1; }

pass=0 fail=0
check() { # name want-rc want-stderr
	local got rc
	got=$(cat "$tmp/$1.err")
	rc=$(cat "$tmp/$1.rc")
	if [ "$rc" = "$2" ] && [ "$got" = "$3" ]; then
		echo "PASS $1"; pass=$((pass + 1))
	else
		echo "FAIL $1"; fail=$((fail + 1))
		printf '    want (exit %s): %s\n    got  (exit %s): %s\n' "$2" "$3" "$rc" "$got"
	fi
}
timeout='msmtp: timed out after 1 seconds while waiting for the greeting'
check starttls 75 "$timeout
msmtp: hint: port 465 expects TLS from the start: set tls_starttls off"
check plain 75 "$timeout
msmtp: hint: port 465 expects TLS from the start: set tls on and tls_starttls off"
check other 75 "$timeout"
check implicit 75 "msmtp: TLS handshake: timed out after 1 seconds"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
