#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# demo.sh PATH_TO_MSMTP
#
# Starts the project's fake SMTP server (tests/integration/fakesmtp.py) in
# accept-everything mode on a free loopback port, sends a small sample
# message through the real binary using command-line options only, then
# prints the SMTP dialogue, the message as the server received it, and the
# binary's exit code.  The server is stopped whatever happens.
set -u

if [ $# -ne 1 ]; then
	echo "usage: $0 PATH_TO_MSMTP" >&2
	exit 64
fi
msmtp=$1
if [ ! -x "$msmtp" ]; then
	echo "$0: $msmtp is not an executable file" >&2
	exit 66
fi
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON3:-python3}
case $python in no) python=python3 ;; esac

work=$(mktemp -d "${TMPDIR:-/tmp}/msmtp-demo.XXXXXX") || exit 71
server_pid=
cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

"$python" "$here/integration/fakesmtp.py" --port 0 \
	--port-file "$work/port" --transcript "$work/dialogue" \
	--message "$work/message" --connections 1 --max-wait 60 \
	2>"$work/server.log" &
server_pid=$!

# Wait (at most 10 s) for the server to announce its port.
tries=0
while [ ! -s "$work/port" ]; do
	tries=$((tries + 1))
	if [ $tries -gt 100 ] || ! kill -0 "$server_pid" 2>/dev/null; then
		echo "$0: the fake server did not start:" >&2
		cat "$work/server.log" >&2
		exit 70
	fi
	sleep 0.1
done
port=$(cat "$work/port")

echo "== fake SMTP server listening on 127.0.0.1 port $port"
echo "== running: $msmtp --host=127.0.0.1 --port=$port -f demo@example.org -t"
status=0
"$msmtp" --host=127.0.0.1 --port="$port" -f demo@example.org -t <<'MSG' || status=$?
From: Demo Sender <demo@example.org>
To: Demo Recipient <rcpt@example.net>
Bcc: hidden@example.net
Subject: msmtp demo

Hello from the msmtp demo.
.A line starting with a dot (it is dot-stuffed on the wire).
MSG

# Let the server finish the connection (it exits after one), bounded.
tries=0
while kill -0 "$server_pid" 2>/dev/null && [ $tries -lt 50 ]; do
	tries=$((tries + 1))
	sleep 0.1
done

echo
echo "== SMTP dialogue (S: server, C: client)"
if [ -s "$work/dialogue" ]; then
	cat "$work/dialogue"
else
	echo "(no connection was made)"
fi
echo
echo "== message data as received (CRLF shown as line ends)"
if [ -s "$work/message" ]; then
	tr -d '\r' <"$work/message"
else
	echo "(no message data was received)"
fi
echo
echo "== msmtp exit code: $status"
exit "$status"
