#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The built binary carries the hardening configure enabled: PIE, BIND_NOW,
# a GNU_RELRO segment, the stack protector (__stack_chk_fail imported),
# FORTIFY_SOURCE (a __*_chk function imported) and, on x86, CET notes in
# the objects.  What configure enabled is read back from src/Makefile
# (HARDEN_CFLAGS, HARDEN_LDFLAGS, HARDENING): each flag it added is
# checked, one it could not add is reported as not applicable.  SKIP (77)
# in sanitizer, fuzzing and --disable-hardening builds, and without
# readelf.  The modules msmtp-ext.so, msmtp-sasl.so, msmtp-json.so,
# msmtp-http.so and (built with libsecret) msmtp-keyring.so get the same
# checks but PIE.
builddir="${top_builddir:-$(dirname "$0")/..}"
makefile="$builddir/src/Makefile"
bin="${MSMTP:-$builddir/src/msmtp}"

if [ ! -f "$makefile" ] || [ ! -x "$bin" ]; then
	echo "SKIP: not built ($makefile, $bin)"
	exit 77
fi
if ! command -v readelf >/dev/null 2>&1; then
	echo "SKIP: readelf is not installed"
	exit 77
fi

# The value of a variable as configure wrote it into src/Makefile.
makevar() {
	sed -n "s/^$1 = *//p" "$makefile" | head -n 1
}

cflags=$(makevar HARDEN_CFLAGS)
ldflags=$(makevar HARDEN_LDFLAGS)
state=$(makevar HARDENING)
case $state in
off*)
	echo "SKIP: hardening is $state"
	exit 77 ;;
esac

pass=0
fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
na() { echo "N/A  $1: $2"; }
has() { case " $1 " in *" $2 "*) return 0 ;; esac; return 1; }

header=$(readelf -hW "$bin")
dynamic=$(readelf -dW "$bin")
segments=$(readelf -lW "$bin")
# the imported functions: undefined dynamic symbols, versions stripped
imports=$(readelf --dyn-syms -W "$bin" | awk '$7 == "UND" { sub(/@.*/, "", $8); print $8 }')

if has "$ldflags" -pie; then
	if echo "$header" | grep -Eq '^ *Type: *DYN' \
	   && echo "$dynamic" | grep -Eq '\(FLAGS_1\).* PIE( |$)'; then
		ok "pie: ELF type DYN with the PIE flag"
	else
		bad "pie: not a position-independent executable"
		echo "$header" | grep 'Type:'
		echo "$dynamic" | grep FLAGS
	fi
else
	na pie "configure did not add -pie"
fi

if has "$ldflags" -Wl,-z,now; then
	if echo "$dynamic" | grep -Eq '\(FLAGS\).*BIND_NOW|\(FLAGS_1\).* NOW( |$)'; then
		ok "bind-now: FLAGS BIND_NOW / FLAGS_1 NOW"
	else
		bad "bind-now: no BIND_NOW in the dynamic section"
	fi
else
	na bind-now "configure did not add -Wl,-z,now"
fi

if has "$ldflags" -Wl,-z,relro; then
	if echo "$segments" | grep -Eq '^ *GNU_RELRO '; then
		ok "relro: GNU_RELRO segment"
	else
		bad "relro: no GNU_RELRO segment"
	fi
else
	na relro "configure did not add -Wl,-z,relro"
fi

if has "$cflags" -fstack-protector-strong; then
	if echo "$imports" | grep -qx '__stack_chk_fail'; then
		ok "stack-protector: __stack_chk_fail imported"
	else
		bad "stack-protector: __stack_chk_fail not imported"
	fi
else
	na stack-protector "configure did not add -fstack-protector-strong"
fi

case " $cflags " in
*" -D_FORTIFY_SOURCE="*)
	chk=$(echo "$imports" | grep -E '^__[a-z_]+_chk$' | grep -v '^__stack_chk_fail$')
	if [ -n "$chk" ]; then
		ok "fortify: $(echo $chk | wc -w) fortified imports ($(echo $chk | cut -d' ' -f1-3) ...)"
	else
		bad "fortify: no __*_chk function imported"
	fi ;;
*)
	na fortify "configure did not add -D_FORTIFY_SOURCE" ;;
esac

# CET: the linked binary loses the note when any crt object lacks it, so
# the project's own objects are checked (main.o stands for them all).
if has "$cflags" -fcf-protection; then
	obj="$builddir/src/main.o"
	case $(uname -m) in
	x86_64 | i?86)
		if [ ! -f "$obj" ]; then
			na cf-protection "no object file to read ($obj)"
		elif readelf -nW "$obj" | grep -Eq 'x86 feature:.*IBT.*SHSTK'; then
			ok "cf-protection: IBT and SHSTK notes in $(basename "$obj")"
		else
			bad "cf-protection: no IBT/SHSTK note in $obj"
		fi ;;
	*)
		na cf-protection "the note is checked on x86 only" ;;
	esac
else
	na cf-protection "configure did not add -fcf-protection"
fi

# The private modules (src/ext.h): the same link and code flags, but for
# PIE, which a shared object does not have.
keyring_so=
[ -f "$builddir/src/msmtp-keyring.so" ] && keyring_so="$builddir/src/msmtp-keyring.so"
for so in "$builddir/src/msmtp-ext.so" "$builddir/src/msmtp-sasl.so" \
	  "$builddir/src/msmtp-json.so" "$builddir/src/msmtp-http.so" $keyring_so; do
	m=$(basename "$so")
	if [ ! -f "$so" ]; then
		bad "$m: $so is not built"
		continue
	fi
	sodyn=$(readelf -dW "$so")
	soimports=$(readelf --dyn-syms -W "$so" | awk '$7 == "UND" { sub(/@.*/, "", $8); print $8 }')
	if ! has "$ldflags" -Wl,-z,now; then
		na "$m bind-now" "configure did not add -Wl,-z,now"
	elif echo "$sodyn" | grep -Eq '\(FLAGS\).*BIND_NOW|\(FLAGS_1\).* NOW( |$)'; then
		ok "$m bind-now: FLAGS BIND_NOW / FLAGS_1 NOW"
	else
		bad "$m bind-now: no BIND_NOW in the dynamic section"
	fi
	if ! has "$ldflags" -Wl,-z,relro; then
		na "$m relro" "configure did not add -Wl,-z,relro"
	elif readelf -lW "$so" | grep -Eq '^ *GNU_RELRO '; then
		ok "$m relro: GNU_RELRO segment"
	else
		bad "$m relro: no GNU_RELRO segment"
	fi
	# a module may hold no function with a buffer of its own: then it
	# imports none of the functions that fill one either (the list below)
	plain=$(echo "$soimports" | grep -Ex '(memcpy|memmove|memset|mempcpy|strcpy|stpcpy|strcat|strncpy|strncat|sprintf|vsprintf|snprintf|vsnprintf|fgets|read|pread|pread64|recv|recvfrom|readlink|getcwd|realpath|poll|ppoll)')
	if ! has "$cflags" -fstack-protector-strong; then
		na "$m stack-protector" "configure did not add it"
	elif echo "$soimports" | grep -qx '__stack_chk_fail'; then
		ok "$m stack-protector: __stack_chk_fail imported"
	elif [ -z "$plain" ]; then
		na "$m stack-protector" "no function with a buffer (imports none of memcpy, snprintf, read...)"
	else
		bad "$m stack-protector: __stack_chk_fail not imported, but $(echo $plain)"
	fi
	case " $cflags " in
	*" -D_FORTIFY_SOURCE="*)
		# a module may hold no call fortify can check: then it imports
		# none of the functions fortify replaces but snprintf (whose
		# size is an argument), checked or not
		plain=$(echo "$plain" | grep -Evx '(snprintf|vsnprintf)')
		if echo "$soimports" | grep -E '^__[a-z_]+_chk$' | grep -qv '^__stack_chk_fail$'; then
			ok "$m fortify: fortified imports"
		elif [ -z "$plain" ]; then
			na "$m fortify" "no call fortify could check (imports none of memcpy, strcpy, sprintf, read...)"
		else
			bad "$m fortify: no __*_chk function imported, but $(echo $plain)"
		fi ;;
	esac
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
