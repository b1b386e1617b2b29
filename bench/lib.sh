# SPDX-License-Identifier: GPL-3.0-or-later
# Shared by the bench scripts (sourced): a work directory removed on exit
# and the loopback sink (sink.py) started in it; sets $tmp and $port.
tmp=$(mktemp -d)
trap 'kill $sinkpid 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
python3 "$here/sink.py" > "$tmp/port" &
sinkpid=$!
while [ ! -s "$tmp/port" ]; do sleep 0.1; done
port=$(cat "$tmp/port")
