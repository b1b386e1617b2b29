#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# postfix-stop.sh WORKDIR
#
# Stops the private Postfix instance that postfix-start.sh started under
# WORKDIR.  Safe to run when nothing is running or WORKDIR is stale or
# missing.  Only processes of this instance are signalled, by process id:
# the master from WORKDIR/queue/pid/master.pid, and (Linux) any process whose
# environment says MAIL_CONFIG=WORKDIR/conf, i.e. daemons or deliver.sh runs
# left behind by a master that died.  Leaves WORKDIR (logs, maildir) in place.
# Exit 0 when nothing of the instance is left running, 1 otherwise.

die() {
	echo "postfix-stop.sh: $*" >&2
	exit 1
}

[ $# -eq 1 ] || die "usage: postfix-stop.sh WORKDIR"
[ -d "$1" ] || exit 0
workdir=$(cd "$1" && pwd) || die "cannot enter $1"
conf=$workdir/conf
"$(dirname "$0")/dovecot-stop.sh" "$workdir/dovecot"
pidfile=$workdir/queue/pid/master.pid
unset MAIL_CONFIG
daemon_dir=$(postconf -dh daemon_directory 2>/dev/null)
[ -n "$daemon_dir" ] || daemon_dir=/usr/lib/postfix/sbin

# The master's pid, if the pid file names a live Postfix master.
master_pid() {
	[ -r "$pidfile" ] || return 1
	pid=$(tr -d ' \n' <"$pidfile")
	case $pid in
	'' | *[!0-9]*) return 1 ;;
	esac
	alive "$pid" || return 1
	if [ -r "/proc/$pid/cmdline" ]; then
		tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q master || return 1
	fi
	echo "$pid"
}

# Pids of this instance's processes (Linux only): Postfix daemons (their
# executable lives in daemon_directory) and deliver.sh runs whose
# environment says MAIL_CONFIG=WORKDIR/conf.  Checking the executable keeps
# a caller that exported MAIL_CONFIG (and this script) off the list.
instance_pids() {
	[ -d /proc/self ] || return 0
	for env in /proc/[0-9]*/environ; do
		pid=${env#/proc/}
		pid=${pid%/environ}
		{ tr '\0' '\n' <"$env"; } 2>/dev/null |
			grep -qx "MAIL_CONFIG=$conf" || continue
		exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
		case $exe in
		"$daemon_dir"/*)
			echo "$pid"
			continue
			;;
		esac
		args=$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null)
		case $args in
		*"$conf/deliver.sh"*) echo "$pid" ;;
		esac
	done
}

# True while process $1 exists and is not a zombie (in a container whose
# init does not reap, a stopped master can linger as a zombie).
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	[ -r "/proc/$1/stat" ] || return 0
	state=$({ sed 's/.*) \(.\).*/\1/' "/proc/$1/stat"; } 2>/dev/null)
	[ "$state" != Z ]
}

# Wait up to $1 tenths of a second for process $2 to go away.
wait_gone() {
	n=$1
	while [ "$n" -gt 0 ]; do
		alive "$2" || return 0
		sleep 0.1
		n=$((n - 1))
	done
	! alive "$2"
}

# 1. The polite way: postfix stop (the master stops its children).
if [ -f "$conf/main.cf" ] && pid=$(master_pid); then
	MAIL_CONFIG=$conf postfix -c "$conf" stop >/dev/null 2>&1
	if ! wait_gone 100 "$pid"; then
		kill -TERM "$pid" 2>/dev/null
		wait_gone 30 "$pid" || kill -KILL "$pid" 2>/dev/null
	fi
fi

# 2. Leftovers: a stale pid file after a crash, or orphaned children.
if pid=$(master_pid); then
	kill -KILL "$pid" 2>/dev/null
fi
leftovers=$(instance_pids)
if [ -n "$leftovers" ]; then
	for pid in $leftovers; do
		kill -TERM "$pid" 2>/dev/null
	done
	sleep 0.5
	for pid in $(instance_pids); do
		kill -KILL "$pid" 2>/dev/null
	done
	sleep 0.1
	[ -z "$(instance_pids)" ] || die "processes of $conf still running"
fi
exit 0
