#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Automake test script: the client against a real, private Postfix on
# loopback.  Exit 0 pass, 1 fail, 77 skip.
#
# Starts tests/servers/postfix-start.sh in a fresh work directory on a free
# port, runs the cases in postfix_test.py (one "PASS name" / "FAIL name:
# reason" line each, then "N passed, N failed"), and always stops Postfix.
#
# Environment (all optional):
#   MSMTP               binary under test (default: ../../src/msmtp from here)
#   PYTHON3             python interpreter (default: python3)
#   POSTFIX_TEST_PORT   port for the plain SMTP listener (default: a free one)
#   POSTFIX_TEST_WORKDIR  work directory (default: a new one under $TMPDIR);
#                       its conf/, queue/, data/, maildir/ and log/ are wiped
#   POSTFIX_TEST_KEEP=1 keep the work directory even when every case passed
#                       (it is always kept after a failure; log/maillog is
#                       Postfix's log)
here=$(cd "$(dirname "$0")" && pwd)
servers=$here/../servers
: "${MSMTP:=$here/../../src/msmtp}"
case ${PYTHON3:-no} in
no | '') PYTHON3=python3 ;;
esac

skip() {
	echo "SKIP: $*"
	exit 77
}

command -v postfix >/dev/null 2>&1 || skip "postfix not found"
command -v postconf >/dev/null 2>&1 || skip "postconf not found"
[ "$(id -u)" -eq 0 ] || skip "the private Postfix instance needs root"
command -v "$PYTHON3" >/dev/null 2>&1 || skip "python3 not found"
[ -x "$MSMTP" ] || skip "binary $MSMTP not built"

if [ -n "${POSTFIX_TEST_WORKDIR:-}" ]; then
	workdir=$POSTFIX_TEST_WORKDIR
	mkdir -p "$workdir" || exit 1
else
	workdir=$(mktemp -d "${TMPDIR:-/tmp}/msmtp-postfix.XXXXXX") || exit 1
fi

free_ports() { # four distinct free loopback ports
	"$PYTHON3" -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))'
}
set -- $(free_ports) || exit 1
port=${POSTFIX_TEST_PORT:-$1}
tls_port=$2
smtps_port=$3
auth_port=$4
tls_args=
if command -v certtool >/dev/null 2>&1; then
	tls_args="$tls_port $smtps_port"
	if command -v dovecot >/dev/null 2>&1; then
		tls_args="$tls_args $auth_port"
	fi
fi

status=1
# Runs on every exit.  Signals are ignored from here on (the stop script
# inherits that), so a second Ctrl-C cannot leave Postfix half stopped.
# shellcheck disable=SC2317 # called through the EXIT trap
cleanup() {
	trap '' HUP INT TERM
	"$servers/postfix-stop.sh" "$workdir"
	if [ "$status" -eq 0 ] && [ "${POSTFIX_TEST_KEEP:-0}" != 1 ] &&
		[ -z "${POSTFIX_TEST_WORKDIR:-}" ]; then
		rm -rf "$workdir"
	fi
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# shellcheck disable=SC2086 # tls_args is empty or two port numbers
if ! start_out=$("$servers/postfix-start.sh" "$workdir" "$port" $tls_args 2>&1); then
	printf '%s\n' "$start_out" | sed 's/^/    /'
	echo "FAIL start: private Postfix did not start on port $port (work directory $workdir kept)"
	echo "0 passed, 1 failed"
	exit 1
fi

"$PYTHON3" "$here/postfix_test.py" --msmtp "$MSMTP" --port "$port" \
	--workdir "$workdir" ${tls_args:+--tls-port "$tls_port" --smtps-port "$smtps_port"} \
	$(case $tls_args in *" "*" "*) echo "--auth-port $auth_port" ;; esac)
status=$?
exit "$status"
