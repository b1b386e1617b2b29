#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# postfix-start.sh WORKDIR PORT
#
# Starts a private Postfix instance for the test suite, listening for plain
# SMTP on 127.0.0.1:PORT, with everything it owns under WORKDIR:
#   WORKDIR/conf     main.cf, master.cf, maps, deliver.sh (config_directory)
#   WORKDIR/queue    queue_directory        WORKDIR/data  data_directory
#   WORKDIR/maildir  delivered mail: maildir/<localpart>/new/<file>
#   WORKDIR/log      maillog
# A stale WORKDIR from an earlier run is stopped and wiped first (only the
# subdirectories above; nothing else in WORKDIR is touched).  Never touches
# /etc/postfix or a system instance.  Needs root.
#
# Exit 0 once the port accepts connections and answers with this instance's
# banner (waits at most POSTFIX_START_TIMEOUT seconds, default 20); exit 1
# with a reason on stderr otherwise.
here=$(cd "$(dirname "$0")" && pwd)
templates=$here/postfix
banner_tag="ESMTP postfix-test"

die() {
	echo "postfix-start.sh: $*" >&2
	exit 1
}

[ $# -eq 2 ] || [ $# -eq 4 ] || [ $# -eq 5 ] ||
	die "usage: postfix-start.sh WORKDIR PORT [STARTTLS_PORT SMTPS_PORT [AUTH_PORT]]"
tls_port=${3:-0}
smtps_port=${4:-0}
auth_port=${5:-0}
if [ $# -ge 4 ]; then tls='' ; else tls='#'; fi
if [ $# -eq 5 ]; then sasl='' ; else sasl='#'; fi
workdir=$1
port=$2
case $port in
'' | *[!0-9]*) die "port '$port' is not a number" ;;
esac
if [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
	die "port $port out of range"
fi
[ "$(id -u)" -eq 0 ] || die "must run as root"
command -v postfix >/dev/null 2>&1 || die "postfix not found"
command -v postconf >/dev/null 2>&1 || die "postconf not found"

mkdir -p "$workdir" || die "cannot create $workdir"
workdir=$(cd "$workdir" && pwd) || die "cannot enter $workdir"
[ "$workdir" != / ] || die "refusing to use / as WORKDIR"
conf=$workdir/conf
queue=$workdir/queue
data=$workdir/data
maildir=$workdir/maildir
logdir=$workdir/log
logfile=$logdir/maillog

# Run a command quietly; on failure show its output and give up.
run_or_die() {
	out=$("$@" 2>&1) || {
		printf '%s\n' "$out" >&2
		die "failed: $*"
	}
}

# True when something accepts TCP connections on 127.0.0.1:$1.  With a
# second argument, also require that the greeting contains that text.
probe_port() {
	if command -v python3 >/dev/null 2>&1; then
		python3 - "$@" <<'EOF'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)
except OSError:
    sys.exit(1)
if len(sys.argv) < 3:
    sys.exit(0)
s.settimeout(2)
try:
    greeting = s.recv(512).decode("latin-1")
    s.sendall(b"QUIT\r\n")
except OSError:
    sys.exit(1)
sys.exit(0 if sys.argv[2] in greeting else 1)
EOF
	elif command -v bash >/dev/null 2>&1; then
		bash -c '
			exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
			[ $# -lt 2 ] && exit 0
			IFS= read -r -t 2 greeting <&3 || exit 1
			printf "QUIT\r\n" >&3
			case $greeting in *"$2"*) exit 0 ;; esac
			exit 1' probe "$@" 2>/dev/null
	else
		die "need python3 or bash to probe the port"
	fi
}

# Postfix >= 3.9, 3.8.5, 3.7.10, 3.6.14, 3.5.24 accept
# smtpd_forbid_bare_newline = reject; older ones do not know the value.
bare_lf_reject_supported() {
	postconf -c "$conf" -d smtpd_forbid_bare_newline >/dev/null 2>&1 ||
		return 1
	version=$(postconf -c "$conf" -dh mail_version) || return 1
	old_ifs=$IFS
	IFS=.
	# shellcheck disable=SC2086 # split on dots on purpose
	set -- $version
	IFS=$old_ifs
	major=${1:-0} minor=${2:-0} patch=${3:-0}
	case $major$minor$patch in *[!0-9]*) return 1 ;; esac
	[ "$major" -gt 3 ] && return 0
	[ "$major" -lt 3 ] && return 1
	case $minor in
	5) [ "$patch" -ge 24 ] ;;
	6) [ "$patch" -ge 14 ] ;;
	7) [ "$patch" -ge 10 ] ;;
	8) [ "$patch" -ge 5 ] ;;
	*) [ "$minor" -ge 9 ] ;;
	esac
}

# Fill a template's @NAME@ placeholders.  Paths come from mktemp or the
# caller; refuse the few characters that would break the sed expression.
render() {
	sed -e "s|@CONF@|$conf|g" \
		-e "s|@QUEUE@|$queue|g" \
		-e "s|@DATA@|$data|g" \
		-e "s|@MAILDIR@|$maildir|g" \
		-e "s|@LOGDIR@|$logdir|g" \
		-e "s|@LOGFILE@|$logfile|g" \
		-e "s|@PORT@|$port|g" \
		-e "s|@DAEMON_DIR@|$daemon_dir|g" \
		-e "s|@COMMAND_DIR@|$command_dir|g" \
		-e "s|@SHLIB_DIR@|$shlib_dir|g" \
		-e "s|@META_DIR@|$meta_dir|g" \
		-e "s|@BARE_LF@|$bare_lf|g" \
		-e "s|@TLS@|$tls|g" \
		-e "s|@TLSPORT@|$tls_port|g" \
		-e "s|@SMTPSPORT@|$smtps_port|g" \
		-e "s|@SASL@|$sasl|g" \
		-e "s|@AUTHPORT@|$auth_port|g" \
		-e "s|@SASLPATH@|$workdir/dovecot/auth-postfix|g" \
		"$1" >"$2" || die "cannot render $2"
}

case $workdir in
*'|'* | *'&'* | *\\* | *' '* | *'	'*)
	die "WORKDIR '$workdir' contains | & \\ or white space" ;;
esac

# 1. Stop whatever an earlier run left behind, then start from scratch.
"$here/postfix-stop.sh" "$workdir" || die "cannot stop the old instance"
rm -rf "$conf" "$queue" "$data" "$maildir" "$logdir" ||
	die "cannot clean $workdir"

if probe_port "$port"; then
	die "port $port on 127.0.0.1 is already in use"
fi

# 2. Directories.  pipe(8) runs deliver.sh as nobody: it must reach
#    WORKDIR/conf and write WORKDIR/maildir.
mkdir -p "$conf" "$queue" "$data" "$maildir" "$logdir" ||
	die "cannot create directories under $workdir"
chmod 755 "$workdir" "$conf" "$queue" "$logdir" || die "chmod failed"
chown postfix "$data" || die "cannot chown $data"
chmod 700 "$data" || die "cannot chmod $data"
chown nobody "$maildir" || die "cannot chown $maildir"
chmod 755 "$maildir" || die "cannot chmod $maildir"

# 3. Configuration.  The system's own paths (daemons, libraries,
#    postfix-files) come from the compiled-in defaults.
: >"$conf/main.cf" || die "cannot write $conf/main.cf"
: >"$conf/master.cf" || die "cannot write $conf/master.cf"
# shellcheck disable=SC2015 # any failure in the chain is fatal
daemon_dir=$(postconf -c "$conf" -dh daemon_directory) &&
	command_dir=$(postconf -c "$conf" -dh command_directory) &&
	shlib_dir=$(postconf -c "$conf" -dh shlib_directory) &&
	meta_dir=$(postconf -c "$conf" -dh meta_directory) ||
	die "postconf cannot report its default directories"
if bare_lf_reject_supported; then
	bare_lf=
else
	bare_lf='#'
fi
if [ -z "$tls" ]; then
	sh "$here/mkpki.sh" "$conf/pki" >/dev/null || die "cannot make the test PKI"
fi
if [ -z "$sasl" ]; then
	"$here/dovecot-start.sh" "$workdir/dovecot" || die "cannot start Dovecot"
fi
render "$templates/main.cf.in" "$conf/main.cf"
render "$templates/master.cf.in" "$conf/master.cf"
cp "$templates/recipient_access" "$templates/virtual_mailboxes" \
	"$templates/deliver.sh" "$conf/" || die "cannot copy maps"
chmod 644 "$conf/recipient_access" "$conf/virtual_mailboxes" ||
	die "chmod failed in $conf"
chmod 755 "$conf/deliver.sh" || die "chmod failed in $conf"

if command -v runuser >/dev/null 2>&1; then
	runuser -u nobody -- test -x "$conf/deliver.sh" ||
		die "user nobody cannot run $conf/deliver.sh (check the modes of $workdir and its parents)"
	runuser -u nobody -- test -w "$maildir" ||
		die "user nobody cannot write $maildir"
fi

# 4. Check (this also creates the queue subdirectories) and start.
run_or_die env MAIL_CONFIG="$conf" postfix -c "$conf" check
run_or_die env MAIL_CONFIG="$conf" postfix -c "$conf" start

# 5. Wait, bounded, until the port answers with our banner.
limit=${POSTFIX_START_TIMEOUT:-20}
tries=$((limit * 10))
while [ "$tries" -gt 0 ]; do
	if probe_port "$port" "$banner_tag" &&
		{ [ -n "$tls" ] || { probe_port "$tls_port" "$banner_tag" &&
			probe_port "$smtps_port"; }; } &&
		{ [ -n "$sasl" ] || probe_port "$auth_port" "$banner_tag"; }; then
		exit 0
	fi
	sleep 0.1
	tries=$((tries - 1))
done
echo "postfix-start.sh: no '$banner_tag' banner on 127.0.0.1:$port after ${limit}s" >&2
if [ -f "$logfile" ]; then
	echo "--- last lines of $logfile:" >&2
	tail -n 20 "$logfile" >&2
fi
"$here/postfix-stop.sh" "$workdir"
exit 1
