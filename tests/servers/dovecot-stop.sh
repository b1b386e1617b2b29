#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# dovecot-stop.sh DIR: stop the private Dovecot started there (if any).
dir=${1:?usage: dovecot-stop.sh DIR}
pidfile=$dir/run/master.pid
[ -r "$pidfile" ] || exit 0
pid=$(tr -d ' \n' <"$pidfile")
case $pid in '' | *[!0-9]*) exit 0 ;; esac
kill "$pid" 2>/dev/null || exit 0
tries=50
while kill -0 "$pid" 2>/dev/null && [ "$tries" -gt 0 ]; do
	sleep 0.1
	tries=$((tries - 1))
done
kill -9 "$pid" 2>/dev/null
exit 0
