#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The heavy libraries live in private modules (src/ext.h): the msmtp
# binary's NEEDED entries name none of GnuTLS, GNU SASL, libidn2, libcurl,
# json-c, expat, libresolv and libsecret; msmtp-ext.so's name GnuTLS but
# neither GNU SASL nor libcurl, msmtp-sasl.so's GNU SASL but not GnuTLS,
# msmtp-json.so's json-c alone, msmtp-http.so's libcurl, and
# msmtp-keyring.so (a build with libsecret) libsecret.  What a run maps (LD_DEBUG=files): a TLS run without
# authentication maps GnuTLS and not GNU SASL, an authenticated run
# without TLS GNU SASL and not GnuTLS.
# A copy of the binary outside the build tree looks for the module only in
# PKGLIBDIR: where none is installed there, the copy still sends a plain
# message to the fake server (exit 0), a run that needs TLS fails with
# exit 69 and "cannot load PKGLIBDIR/msmtp-ext.so", and --version (which
# never loads it) exits 0.  That part is skipped when a module is installed there.
# SKIP (77) without readelf or python3, or when not built.
builddir="${top_builddir:-$(dirname "$0")/..}"
srcdir="${top_srcdir:-$(dirname "$0")/..}"
bin="${MSMTP:-$builddir/src/msmtp}"
so="$builddir/src/msmtp-ext.so"
python=${PYTHON3:-python3}

if [ ! -x "$bin" ] || [ ! -f "$so" ]; then
	echo "SKIP: not built ($bin, $so)"
	exit 77
fi
if ! command -v readelf >/dev/null 2>&1 || ! command -v "$python" >/dev/null 2>&1; then
	echo "SKIP: readelf or $python is not installed"
	exit 77
fi

pass=0
fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }

needed() {
	readelf -dW "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
}

# A sanitizer build loads GnuTLS at start (src/Makefile.am says why).
sanitized=
grep -q '^SAN_CFLAGS = -fsanitize' "$builddir/src/Makefile" 2>/dev/null && sanitized=yes
allowed='^$'
[ -n "$sanitized" ] && allowed='^libgnutls[.]'
heavy=$(needed "$bin" | grep -E '^lib(gnutls|gsasl|idn2|curl|json-c|expat|resolv|secret-1|glib-2)[-.]' | grep -Ev "$allowed")
if [ -z "$heavy" ]; then
	ok "msmtp needs none of the heavy libraries ($(needed "$bin" | tr '\n' ' '))"
else
	bad "msmtp links $(echo $heavy)"
fi
if needed "$so" | grep -q '^libgnutls' && ! needed "$so" | grep -q '^libgsasl' &&
   ! needed "$so" | grep -q '^libcurl'; then
	ok "msmtp-ext.so links GnuTLS, not GNU SASL or libcurl"
else
	bad "msmtp-ext.so: $(needed "$so" | tr '\n' ' ')"
fi
sasl_so="$builddir/src/msmtp-sasl.so"
if needed "$sasl_so" | grep -q '^libgsasl' && ! needed "$sasl_so" | grep -q '^libgnutls'; then
	ok "msmtp-sasl.so links GNU SASL, not GnuTLS"
else
	bad "msmtp-sasl.so: $(needed "$sasl_so" | tr '\n' ' ')"
fi
json_so="$builddir/src/msmtp-json.so"
if needed "$json_so" | grep -q '^libjson-c' &&
   ! needed "$json_so" | grep -Eq '^lib(gnutls|gsasl|curl)'; then
	ok "msmtp-json.so links json-c, not GnuTLS, GNU SASL or libcurl"
else
	bad "msmtp-json.so: $(needed "$json_so" | tr '\n' ' ')"
fi
keyring_so="$builddir/src/msmtp-keyring.so"
if [ -f "$keyring_so" ]; then
	if needed "$keyring_so" | grep -q '^libsecret-1'; then
		ok "msmtp-keyring.so links libsecret"
	else
		bad "msmtp-keyring.so: $(needed "$keyring_so" | tr '\n' ' ')"
	fi
fi
if needed "$builddir/src/msmtp-http.so" | grep -q '^libcurl'; then
	ok "msmtp-http.so links libcurl"
else
	bad "msmtp-http.so does not link libcurl"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/msmtp-module.XXXXXX") || exit 1
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
mkdir "$work/home"

# One fake server connection per run; arguments: more fakesmtp options.
start_server() {
	rm -f "$work/port"
	"$python" "$srcdir/tests/integration/fakesmtp.py" --port 0 \
		--port-file "$work/port" --transcript "$work/dialogue" \
		--message "$work/message" --connections 1 --max-wait 30 \
		"$@" 2>"$work/server.log" &
	server_pid=$!
	tries=0
	while [ ! -s "$work/port" ]; do
		tries=$((tries + 1))
		if [ $tries -gt 100 ] || ! kill -0 "$server_pid" 2>/dev/null; then
			echo "the fake server did not start:"
			cat "$work/server.log"
			exit 1
		fi
		sleep 0.1
	done
	port=$(cat "$work/port")
}
stop_server() {
	kill "$server_pid" 2>/dev/null
	wait "$server_pid" 2>/dev/null
	server_pid=
}

# The libraries the dynamic linker mapped in a run (LD_DEBUG=files).
mapped() {
	sed -n 's/.*file=\([^ ]*\) \[[0-9]*\];  *needed by.*/\1/p' "$1" | sort -u
}

# TLS without authentication: implicit TLS to the plain fake server loads
# msmtp-ext.so (the handshake fails on the server's plain greeting).
start_server
printf 'Subject: tls\n\n' |
	LD_DEBUG=files HOME="$work/home" "$bin" --host=127.0.0.1 \
	--port="$port" --tls=on --tls-starttls=off -f from@example.org \
	to@example.net >"$work/out" 2>"$work/ld"
stop_server
if mapped "$work/ld" | grep -q '^libgnutls' && ! mapped "$work/ld" | grep -q '^libgsasl'; then
	ok "a TLS run without authentication maps GnuTLS, not GNU SASL"
else
	bad "a TLS run without authentication maps: $(mapped "$work/ld" | tr '\n' ' ')"
fi

# Authentication without TLS (PLAIN to the loopback fake server).
start_server -d "auth-user u p" -d "caps PIPELINING,AUTH PLAIN"
printf 'Subject: auth\n\nauthenticated\n' |
	LD_DEBUG=files HOME="$work/home" "$bin" --host=127.0.0.1 \
	--port="$port" --auth=plain --user=u --passwordeval='echo p' \
	-f from@example.org to@example.net >"$work/out" 2>"$work/ld"
st=$?
stop_server
if [ $st -eq 0 ] && mapped "$work/ld" | grep -q '^libgsasl' &&
   { [ -n "$sanitized" ] || ! mapped "$work/ld" | grep -q '^libgnutls'; }; then
	ok "an authenticated run without TLS maps GNU SASL, not GnuTLS"
else
	bad "an authenticated run without TLS (exit $st) maps: $(mapped "$work/ld" | tr '\n' ' ')"
	grep -v '^ *[0-9]*:' "$work/ld" | sed 's/^/  /'
fi

# Where the binary looks outside the build tree, as make expands it.
printf 'check-module-dir:\n\t@echo "$(pkglibdir)"\n' >"$work/dir.mk"
module=$(MAKEFLAGS='' ${MAKE:-make} -s -C "$builddir/src" -f Makefile \
	-f "$work/dir.mk" check-module-dir 2>/dev/null)/msmtp-ext.so
if [ -e "$module" ]; then
	echo "$pass passed, $fail failed (a module is installed as $module:" \
	     "the copy checks are skipped)"
	[ "$fail" -eq 0 ]
	exit
fi

cp "$bin" "$work/msmtp" || exit 1

# A run of the copy that needs a module ($1 says what, $2 the module, $3
# the exit status): 69 and "cannot load MODULE" on stderr.
expect_cannot_load() {
	if [ "$3" -eq 69 ] && grep -qF "msmtp: cannot load $2" "$work/out"; then
		ok "$1 without the module: exit 69, cannot load $2"
	else
		bad "$1 without the module: exit $3 (expected 69):"
		sed 's/^/  /' "$work/out"
	fi
}

out=$(HOME="$work/home" "$work/msmtp" --version 2>&1)
st=$?
if [ $st -eq 0 ] && echo "$out" | grep -q '^TLS/SSL library: GnuTLS [0-9]'; then
	ok "--version without the module: exit 0, names the GnuTLS version"
else
	bad "--version without the module (exit $st):"
	echo "$out" | sed 's/^/  /'
fi

start_server
printf 'Subject: plain\n\nno TLS, no SASL, no IDN\n' |
	HOME="$work/home" "$work/msmtp" --host=127.0.0.1 --port="$port" \
	-f from@example.org to@example.net >"$work/out" 2>&1
st=$?
stop_server
if [ $st -eq 0 ] && grep -q 'no TLS, no SASL, no IDN' "$work/message" 2>/dev/null; then
	ok "a plain send without the module: exit 0, message delivered"
else
	bad "a plain send without the module: exit $st"
	sed 's/^/  /' "$work/out"
fi

start_server
printf 'Subject: tls\n\nneeds TLS\n' |
	HOME="$work/home" "$work/msmtp" --host=127.0.0.1 --port="$port" \
	--tls=on --tls-starttls=off -f from@example.org to@example.net \
	>"$work/out" 2>&1
st=$?
stop_server
expect_cannot_load TLS "$module" $st

# A JSON log without msmtp-json.so: the message still goes (exit 0), the
# record is lost with a warning naming the module.
json_module=${module%/*}/msmtp-json.so
start_server
printf 'account default\nhost 127.0.0.1\nport %s\nfrom from@example.org\nlogfile %s\nlogfile_format json\n' \
	"$port" "$work/json.log" >"$work/json.rc"
chmod 600 "$work/json.rc"
printf 'Subject: json\n\nlogged in JSON\n' |
	HOME="$work/home" "$work/msmtp" -C "$work/json.rc" to@example.net \
	>"$work/out" 2>&1
st=$?
stop_server
if [ $st -eq 0 ] && grep -q 'logged in JSON' "$work/message" 2>/dev/null &&
   grep -qF "cannot log to $work/json.log: cannot load $json_module" "$work/out"; then
	ok "a JSON log without the module: exit 0, delivered, the warning names $json_module"
else
	bad "a JSON log without the module: exit $st:"
	sed 's/^/  /' "$work/out"
fi

# Built with libsecret: without msmtp-keyring.so the lookup warns and the
# next source is asked (here none: 78, "no password").
if [ -f "$keyring_so" ]; then
	keyring_module=${module%/*}/msmtp-keyring.so
	start_server -d "auth-user u p" -d "caps PIPELINING,AUTH PLAIN"
	printf 'Subject: keyring\n\n' |
		HOME="$work/home" "$work/msmtp" --host=127.0.0.1 --port="$port" \
		--auth=plain --user=u -f from@example.org to@example.net \
		>"$work/out" 2>&1 </dev/null
	st=$?
	stop_server
	if [ $st -eq 78 ] && grep -qF "cannot look in the keyring: cannot load $keyring_module" "$work/out"; then
		ok "a keyring lookup without the module: a warning naming it, the next source asked"
	else
		bad "a keyring lookup without the module: exit $st:"
		sed 's/^/  /' "$work/out"
	fi
fi

sasl_module=${module%/*}/msmtp-sasl.so
start_server -d "auth-user u p" -d "caps PIPELINING,AUTH PLAIN"
printf 'Subject: auth\n\nneeds SASL\n' |
	HOME="$work/home" "$work/msmtp" --host=127.0.0.1 --port="$port" \
	--auth=plain --user=u --passwordeval='echo p' -f from@example.org \
	to@example.net >"$work/out" 2>&1
st=$?
stop_server
expect_cannot_load authentication "$sasl_module" $st

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
