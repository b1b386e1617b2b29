#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# dovecot-start.sh DIR: a private Dovecot (auth service only) for Postfix's
# SASL, with one test user (tests/servers/dovecot/users).  The socket is
# DIR/auth-postfix.  Stop with dovecot-stop.sh DIR.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:?usage: dovecot-start.sh DIR}
command -v dovecot >/dev/null 2>&1 || { echo "dovecot not found" >&2; exit 77; }
"$here/dovecot-stop.sh" "$dir" 2>/dev/null || true
mkdir -p "$dir/run" "$dir/state"
chmod 755 "$dir" "$dir/run"
sed -e "s|@DIR@|$dir|g" -e "s|@PID@|$$|g" "$here/dovecot/dovecot.conf.in" >"$dir/dovecot.conf"
cp "$here/dovecot/users" "$dir/users"
chmod 644 "$dir/users"
# the daemon must not keep the caller's stdout/stderr (a $(...) would hang)
dovecot -c "$dir/dovecot.conf" </dev/null >"$dir/start.log" 2>&1 ||
	{ cat "$dir/start.log" >&2; exit 1; }
tries=100
while [ ! -S "$dir/auth-postfix" ] && [ "$tries" -gt 0 ]; do
	sleep 0.1
	tries=$((tries - 1))
done
[ -S "$dir/auth-postfix" ] || { echo "dovecot did not create $dir/auth-postfix" >&2; cat "$dir/dovecot.log" >&2 2>/dev/null; exit 1; }
