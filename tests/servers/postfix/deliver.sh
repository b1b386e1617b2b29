#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# pipe(8) delivery agent of the test Postfix instance (see master.cf.in).
#   deliver.sh MAILDIR SENDER LOCALPART   < message
# Writes the message, byte for byte as Postfix hands it over, into
# MAILDIR/LOCALPART/new/NAME and the envelope sender into
# MAILDIR/LOCALPART/env/NAME.  Both are written under tmp/ first and renamed,
# envelope first, so a file in new/ is always complete and has its envelope.
# Any failure exits 75 (EX_TEMPFAIL): Postfix defers and logs our stderr,
# which the test prints, instead of bouncing the message.
umask 022
fail() {
	echo "deliver.sh: $*" >&2
	exit 75
}
[ $# -eq 3 ] || fail "usage: deliver.sh MAILDIR SENDER LOCALPART"
maildir=$1
sender=$2
user=$3
# The local part becomes a directory name: refuse anything that could leave
# MAILDIR or hide the directory.
case $user in
'' | .* | */*) fail "unusable local part '$user'" ;;
esac
box=$maildir/$user
mkdir -p "$box/tmp" "$box/new" "$box/env" || fail "cannot create $box"
name=$(date +%s.%N).P$$
cat >"$box/tmp/$name" || fail "cannot write $box/tmp/$name"
printf '%s\n' "$sender" >"$box/tmp/$name.env" ||
	fail "cannot write $box/tmp/$name.env"
mv "$box/tmp/$name.env" "$box/env/$name" || fail "cannot rename envelope"
mv "$box/tmp/$name" "$box/new/$name" || fail "cannot rename message"
exit 0
