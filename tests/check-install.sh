#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# make install DESTDIR=(a temporary directory) from the configured build
# tree, as a packager runs it: the installed files are exactly the binary,
# the man page, the info manual (when built), the completions, the vim
# files, the example configurations, the documents and the systemd units
# (ExecStart naming the configured bindir), in the configured directories;
# the units pass systemd-analyze verify where it can run.  Then with
# SENDMAIL_LINKS=yes: sendmail, mailq and newaliases are relative links
# that resolve to the binary and behave by their name, and a sendmail that
# is not our link (a packaged MTA's) is neither replaced nor removed.
# make uninstall leaves no file behind, each time.  Works in a VPATH build
# (make distcheck): only the build tree and the temporary directory are
# written.
builddir="${top_builddir:-$(dirname "$0")/..}"
srcdir="${top_srcdir:-$(dirname "$0")/..}"
make=${MAKE:-make}

if [ ! -f "$builddir/Makefile" ] || [ ! -x "$builddir/src/msmtp" ]; then
	echo "SKIP: not configured and built ($builddir)"
	exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/msmtp-install.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 1' HUP INT TERM

pass=0
fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }

# make in the build tree, on its own: not the caller's flags (a jobserver
# it cannot use, a TESTS list), no info dir file (install-info would make
# one that make uninstall keeps, as automake intends).
inst_make() {
	MAKEFLAGS='' MFLAGS='' AM_UPDATE_INFO_DIR=no \
		$make -C "$builddir" "$@" >>"$work/make.log" 2>&1
}

# The configured directories, as make expands them.
cat >"$work/dirs.mk" <<'EOF'
check-install-dirs:
	@echo "bindir=$(bindir)"; echo "sbindir=$(sbindir)"; \
	echo "mandir=$(mandir)"; echo "infodir=$(infodir)"; \
	echo "docdir=$(docdir)"; echo "sysconfdir=$(sysconfdir)"; \
	echo "localstatedir=$(localstatedir)"; \
	echo "bashcompletiondir=$(bashcompletiondir)"; \
	echo "zshcompletiondir=$(zshcompletiondir)"; \
	echo "fishcompletiondir=$(fishcompletiondir)"; \
	echo "vimfilesdir=$(vimfilesdir)"; \
	echo "systemdsystemunitdir=$(systemdsystemunitdir)"; \
	echo "pkglibdir=$(pkglibdir)"; \
	echo "prog=`echo msmtp | sed '$(transform)'`"
EOF
if ! MAKEFLAGS='' $make -s -C "$builddir" -f Makefile -f "$work/dirs.mk" \
		check-install-dirs >"$work/dirs" 2>"$work/dirs.err"; then
	echo "FAIL cannot read the configured directories:"
	cat "$work/dirs.err"
	exit 1
fi
while IFS='=' read -r k v; do
	case $k in
	bindir|sbindir|mandir|infodir|docdir|sysconfdir|localstatedir|\
	bashcompletiondir|zshcompletiondir|fishcompletiondir|vimfilesdir|\
	systemdsystemunitdir|pkglibdir|prog)
		eval "$k=\$v" ;;
	esac
done <"$work/dirs"

# The files make install must create (one per line, sorted), given
# whether the sendmail links are wanted ($1 = yes).
expected() {
	{
		echo "$bindir/$prog"
		echo "$pkglibdir/msmtp-ext.so"
		echo "$pkglibdir/msmtp-http.so"
		echo "$pkglibdir/msmtp-json.so"
		[ -f "$builddir/src/msmtp-keyring.so" ] &&
			echo "$pkglibdir/msmtp-keyring.so"
		echo "$pkglibdir/msmtp-sasl.so"
		echo "$mandir/man1/$prog.1"
		for f in "$builddir"/doc/*.info "$srcdir"/doc/*.info; do
			[ -f "$f" ] && echo "$infodir/${f##*/}"
		done
		if [ -f "$srcdir/completions/msmtp.bash.in" ]; then
			[ "$bashcompletiondir" = no ] ||
				echo "$bashcompletiondir/msmtp"
			[ "$zshcompletiondir" = no ] ||
				echo "$zshcompletiondir/_msmtp"
			[ "$fishcompletiondir" = no ] ||
				echo "$fishcompletiondir/msmtp.fish"
		fi
		if [ -f "$srcdir/doc/vim/syntax/msmtprc.vim" ] &&
		   [ "$vimfilesdir" != no ]; then
			echo "$vimfilesdir/syntax/msmtprc.vim"
			echo "$vimfilesdir/ftdetect/msmtprc.vim"
		fi
		for f in msmtprc.example msmtprc-system.example crontab.example; do
			echo "$docdir/examples/$f"
		done
		for f in README security.md fault-matrix.md; do
			echo "$docdir/$f"
		done
		if [ "$systemdsystemunitdir" != no ]; then
			for f in msmtp-queue.service msmtp-queue.timer \
				 msmtp-smtpd.socket msmtp-smtpd@.service; do
				echo "$systemdsystemunitdir/$f"
			done
		fi
		if [ "$1" = yes ]; then
			echo "$sbindir/sendmail"
			echo "$bindir/mailq"
			echo "$bindir/newaliases"
		fi
	} | LC_ALL=C sort -u
}

# Every file and link under DESTDIR $1, without the DESTDIR, sorted.
installed() {
	(cd "$1" && find . ! -type d) | sed 's|^\.||' | LC_ALL=C sort
}

# Install into DESTDIR $1 with SENDMAIL_LINKS=$2 and compare the list.
install_into() {
	: >"$work/make.log"
	if ! inst_make install DESTDIR="$1" SENDMAIL_LINKS="$2"; then
		bad "make install (SENDMAIL_LINKS=$2) failed:"
		tail -n 30 "$work/make.log"
		return 1
	fi
	expected "$2" >"$work/expected"
	installed "$1" >"$work/installed"
	if cmp -s "$work/expected" "$work/installed"; then
		ok "make install (SENDMAIL_LINKS=$2): $(wc -l <"$work/expected") files where configured"
	else
		bad "make install (SENDMAIL_LINKS=$2) installed (-expected +installed):"
		diff "$work/expected" "$work/installed" | sed -n 's/^[<>]/  &/p'
	fi
}

# make uninstall from DESTDIR $1 leaves no file or link behind.
uninstall_from() {
	: >"$work/make.log"
	if ! inst_make uninstall DESTDIR="$1" SENDMAIL_LINKS="$2"; then
		bad "make uninstall (SENDMAIL_LINKS=$2) failed:"
		tail -n 30 "$work/make.log"
		return 1
	fi
	left=$(installed "$1")
	if [ -z "$left" ]; then
		ok "make uninstall (SENDMAIL_LINKS=$2) leaves no file"
	else
		bad "make uninstall (SENDMAIL_LINKS=$2) left:"
		echo "$left" | sed 's/^/  /'
	fi
}

# ---- without the links -------------------------------------------------
d=$work/root
install_into "$d" no
bin=$d$bindir/$prog

out=$("$bin" --version 2>&1)
if echo "$out" | grep -qx "System configuration file name: $sysconfdir/msmtprc"; then
	ok "installed binary runs and names $sysconfdir/msmtprc"
else
	bad "installed $prog --version:"
	echo "$out" | sed 's/^/  /'
fi

# The modules (src/ext.h): regular files nobody but their owner may write.
keyring_mod=
[ -f "$builddir/src/msmtp-keyring.so" ] && keyring_mod="$d$pkglibdir/msmtp-keyring.so"
for mod in "$d$pkglibdir/msmtp-ext.so" "$d$pkglibdir/msmtp-sasl.so" \
	   "$d$pkglibdir/msmtp-json.so" "$d$pkglibdir/msmtp-http.so" $keyring_mod; do
	if [ -f "$mod" ] && [ ! -L "$mod" ] &&
	   [ -z "$(find "$mod" -perm /022)" ]; then
		ok "$(basename "$mod") installed, writable by its owner only"
	else
		bad "$mod missing or writable by group/others"
	fi
done

if cmp -s "$srcdir/doc/msmtp.1" "$d$mandir/man1/$prog.1"; then
	ok "man page installed unchanged"
else
	bad "man page differs from doc/msmtp.1"
fi

# The made files carry the configured paths and no placeholder.
units=$d$systemdsystemunitdir
if [ "$systemdsystemunitdir" != no ]; then
	if grep -qx "ExecStart=$bindir/msmtp --queue-run" "$units/msmtp-queue.service" &&
	   grep -qx "ExecStart=$bindir/msmtp -bs" "$units/msmtp-smtpd@.service" &&
	   grep -qx "ReadWritePaths=-$localstatedir/spool/msmtp" "$units/msmtp-smtpd@.service"; then
		ok "units: ExecStart is $bindir/msmtp, the spool $localstatedir/spool/msmtp"
	else
		bad "units do not name the configured paths:"
		grep -h '^ExecStart\|^ReadWritePaths' "$units"/msmtp-* | sed 's/^/  /'
	fi
fi
if grep -q "^\*/5 \* \* \* \* $bindir/msmtp --queue-run\$" "$d$docdir/examples/crontab.example"; then
	ok "crontab.example runs $bindir/msmtp"
else
	bad "crontab.example does not run $bindir/msmtp"
fi
# The completions read account names from the configured system file.
for f in "$bashcompletiondir/msmtp" "$zshcompletiondir/_msmtp" \
	 "$fishcompletiondir/msmtp.fish"; do
	[ -f "$d$f" ] || continue
	if grep -qF "$sysconfdir/msmtprc" "$d$f"; then
		ok "$f reads $sysconfdir/msmtprc"
	else
		bad "$f does not name $sysconfdir/msmtprc"
	fi
done
if [ -f "$d$bashcompletiondir/msmtp" ] && ! bash -n "$d$bashcompletiondir/msmtp"; then
	bad "the installed bash completion does not parse"
fi
left=$(cd "$d" && grep -rlE '@(bindir|sbindir|sysconfdir|localstatedir)@' . 2>/dev/null)
if [ -z "$left" ]; then
	ok "no @placeholder@ left in the installed files"
else
	bad "placeholders left in: $left"
fi

# systemd-analyze verify: the installed units, with ExecStart pointing at
# the binary under DESTDIR (the configured path does not exist yet).  Only
# where systemd-analyze runs at all (not in every container).
if [ "$systemdsystemunitdir" = no ]; then
	echo "N/A  systemd-analyze verify: configured without units"
elif ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "N/A  systemd-analyze verify: systemd-analyze is not installed"
elif ! systemd-analyze --version >/dev/null 2>&1; then
	echo "N/A  systemd-analyze verify: systemd-analyze cannot run here"
else
	mkdir "$work/units"
	for f in "$units"/msmtp-*; do
		sed "s|^ExecStart=$bindir/msmtp|ExecStart=$bin|" "$f" \
			>"$work/units/${f##*/}"
	done
	# Any finding about our units fails, warnings included (an
	# unknown key only warns); a failure that names none of them is
	# systemd's trouble with the system it runs on (a container).
	(cd "$work/units" && systemd-analyze verify --man=no \
		./msmtp-queue.service ./msmtp-queue.timer \
		./msmtp-smtpd.socket ./msmtp-smtpd@.service) >"$work/verify" 2>&1
	st=$?
	if grep -q 'msmtp' "$work/verify"; then
		bad "systemd-analyze verify:"
		sed 's/^/  /' "$work/verify"
	elif [ $st -eq 0 ]; then
		ok "systemd-analyze verify: the four units are clean"
	else
		echo "N/A  systemd-analyze verify cannot run here:"
		sed 's/^/  /' "$work/verify"
	fi
fi

uninstall_from "$d" no

# ---- with the links ----------------------------------------------------
d=$work/links
install_into "$d" yes
bin=$d$bindir/$prog
for link in "$sbindir/sendmail" "$bindir/mailq" "$bindir/newaliases"; do
	l=$d$link
	target=$(readlink "$l" 2>/dev/null)
	case $target in
	"")
		bad "$link is not a symbolic link" ;;
	/*)
		bad "$link -> $target is absolute (DESTDIR or a moved tree breaks it)" ;;
	*)
		if [ "$(cd "$(dirname "$l")" && cd "$(dirname "$target")" && pwd -P)/${target##*/}" = \
		     "$(cd "$(dirname "$bin")" && pwd -P)/$prog" ]; then
			ok "$link -> $target, the installed binary"
		else
			bad "$link -> $target does not resolve to $bindir/$prog"
		fi ;;
	esac
done

# Each name behaves as documented (README "Installing as sendmail"), run
# through its link, touching nothing outside the temporary directory.
home=$work/home
mkdir -p "$home"
cat >"$work/rc" <<'EOF'
account default
host smtp.install-check.example
port 25
tls off
from root@install-check.example
EOF
chmod 600 "$work/rc"
runenv() {
	env -i HOME="$home" XDG_CONFIG_HOME="$home/.config" \
		XDG_STATE_HOME="$home/.state" PATH=/usr/bin:/bin LC_ALL=C "$@"
}
out=$(runenv "$d$sbindir/sendmail" --version 2>&1)
if [ $? -eq 0 ] && echo "$out" | head -n 1 | grep -q '^msmtp '; then
	ok "sendmail --version through the link"
else
	bad "sendmail --version: $out"
fi
out=$(runenv "$d$sbindir/sendmail" -C "$work/rc" --pretend 2>&1)
if [ $? -eq 0 ] && echo "$out" | grep -q 'smtp.install-check.example'; then
	ok "sendmail -C FILE --pretend names the configured host"
else
	bad "sendmail --pretend:"
	echo "$out" | sed 's/^/  /'
fi
out=$(runenv "$d$bindir/newaliases" 2>&1)
if [ $? -eq 0 ] && [ -z "$out" ]; then
	ok "newaliases does nothing and exits 0"
else
	bad "newaliases: $out"
fi
out=$(runenv "$d$bindir/mailq" -C "$work/rc" 2>&1)
st=$?
if [ $st -eq 0 ] && [ "$out" = "$(runenv "$bin" -C "$work/rc" -bp 2>&1)" ]; then
	ok "mailq lists the (empty) queue like msmtp -bp"
else
	bad "mailq (exit $st): $out"
fi

uninstall_from "$d" yes

# ---- a sendmail that is not ours is left alone -------------------------
d=$work/foreign
mkdir -p "$d$sbindir"
echo "another MTA's sendmail" >"$d$sbindir/sendmail"
: >"$work/make.log"
if inst_make install DESTDIR="$d" SENDMAIL_LINKS=yes; then
	bad "make install replaced or ignored a foreign sendmail"
elif grep -q "not replacing $d$sbindir/sendmail" "$work/make.log" &&
     [ "$(cat "$d$sbindir/sendmail")" = "another MTA's sendmail" ]; then
	ok "make install refuses to replace a sendmail that is not our link"
else
	bad "make install with a foreign sendmail:"
	tail -n 10 "$work/make.log"
fi
: >"$work/make.log"
inst_make uninstall DESTDIR="$d" SENDMAIL_LINKS=yes
if [ "$(installed "$d")" = "$sbindir/sendmail" ] &&
   [ "$(cat "$d$sbindir/sendmail")" = "another MTA's sendmail" ]; then
	ok "make uninstall leaves the foreign sendmail and removes the rest"
else
	bad "make uninstall with a foreign sendmail left:"
	installed "$d" | sed 's/^/  /'
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
