#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The shell completions (completions/): every long and short option of
# src/cli.c is in each file; each file parses (bash -n, zsh -n, fish -n,
# each where that shell is installed); bash completes account names from
# the files in use (the user's, XDG, -C, the system file), option values
# and options, and nothing after the first recipient; zsh's and fish's
# account lists likewise where installed.  HOME and the system file point
# into a temporary directory; @sysconfdir@ is substituted as install does.
top="${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}"
pass=0 fail=0
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT

ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; shift; [ $# -gt 0 ] && printf '    %s\n' "$@"; fail=$((fail + 1)); }
check() { # name want got
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "want: $2" "got:  $3"; fi
}

mkdir -p "$tmp/etc" "$tmp/home" "$tmp/xdg/msmtp"
for f in msmtp.bash _msmtp msmtp.fish; do
	sed "s|@sysconfdir@|$tmp/etc|g" "$top/completions/$f.in" >"$tmp/$f" || exit 99
done

# ---- the option lists ----------------------------------------------------
longs=$(sed -n '/^static const struct long_opt long_opts\[\] = {/,/^};/p' "$top/src/cli.c" |
	grep -o '^[[:space:]]*\(LONG_[A-Z]*(\|{ \)"[a-z0-9-]*"' | grep -o '"[^"]*"' | tr -d '"')
shorts=$(sed -n '/^static const struct short_opt short_opts\[\] = {/,/^};/p' "$top/src/cli.c" |
	grep -o "^[[:space:]]*{ '[A-Za-z]'" | grep -o "'.'" | tr -d "'")
[ "$(echo "$longs" | wc -l)" -gt 50 ] && [ "$(echo "$shorts" | wc -l)" -gt 20 ] ||
	bad "option tables found in src/cli.c"
for f in msmtp.bash _msmtp msmtp.fish; do
	missing=
	for o in $longs; do
		case $f in
		msmtp.fish) grep -qE -- "-l $o( |\$)" "$tmp/$f" ;;
		*) grep -qE -- "--$o([]=[ ',}+]|\$)" "$tmp/$f" ;;
		esac || missing="$missing --$o"
	done
	for o in $shorts; do
		case $f in
		msmtp.fish) grep -qE -- "-s $o( |\$)" "$tmp/$f" ;;
		msmtp.bash) grep -qE -- "(^|[ '])-$o( |'|\$)" "$tmp/$f" ;;
		*) grep -qE -- "[{' ,)]-$o[]+[,}-]" "$tmp/$f" ;;
		esac || missing="$missing -$o"
	done
	if [ -z "$missing" ]; then ok "every option of cli.c in $f"
	else bad "every option of cli.c in $f" "missing:$missing"; fi
done

# ---- the configuration files ---------------------------------------------
printf 'defaults\ntls on\n\naccount work\nhost mail.example.org\n\n  account   personal : work\naccount default : personal\n# account commented\n' \
	>"$tmp/home/.msmtprc"
printf 'account sysacct\nhost relay\n' >"$tmp/etc/msmtprc"
printf 'account other\naccount other2:other\n' >"$tmp/other.rc"
printf 'account xdgacct\n' >"$tmp/xdg/msmtp/config"

# ---- bash ----------------------------------------------------------------
if bash -n "$tmp/msmtp.bash"; then ok "bash -n msmtp.bash"; else bad "bash -n msmtp.bash"; fi
# COMPREPLY for the words given (the last one is completed), sorted
bcomp() {
	HOME="$tmp/home" XDG_CONFIG_HOME="${XDG:-}" bash --norc --noprofile -c '
		source "$1" || exit 1
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		_msmtp
		printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' bcomp "$tmp/msmtp.bash" "$@" 2>&1 | sed 's/ $//'
}
check "bash: -a lists the accounts of ~/.msmtprc and the system file" \
	"default personal sysacct work" "$(bcomp msmtp -a '')"
check "bash: --account= (split at =) lists them too" \
	"default personal sysacct work" "$(bcomp msmtp --account = '')"
check "bash: --account=w (not split) completes with the option" \
	"--account=work" "$(bcomp msmtp --account=w)"
check "bash: -a with a prefix" "personal" "$(bcomp msmtp -f a@b.c -a p)"
check "bash: -C FILE on the line replaces the user files" \
	"other other2 sysacct" "$(bcomp msmtp -C "$tmp/other.rc" -a '')"
check "bash: --file=FILE likewise" \
	"other other2 sysacct" "$(bcomp msmtp --file="$tmp/other.rc" --account '')"
mv "$tmp/home/.msmtprc" "$tmp/home/msmtprc.off"
check "bash: \$XDG_CONFIG_HOME/msmtp/config" "sysacct xdgacct" \
	"$(XDG="$tmp/xdg" bcomp msmtp -a '')"
mv "$tmp/home/msmtprc.off" "$tmp/home/.msmtprc"
check "bash: --tls-starttls= values" "--tls-starttls=off --tls-starttls=on" \
	"$(bcomp msmtp --tls-starttls=)"
check "bash: --protocol split at =" "lmtp smtp" "$(bcomp msmtp --protocol = '')"
check "bash: long options by prefix" "--tls-starttls --tls-starttls=" \
	"$(bcomp msmtp --tls-start)"
check "bash: -N values" "failure failure,delay failure,delay,success" \
	"$(bcomp msmtp -N f)"
check "bash: nothing after the first recipient" "" \
	"$(bcomp msmtp -a work bob@example.org --t)"
check "bash: a file for -C" "$tmp/other.rc" "$(bcomp msmtp -C "$tmp/oth")"

# ---- zsh -----------------------------------------------------------------
if command -v zsh >/dev/null 2>&1; then
	if zsh -n "$tmp/_msmtp"; then ok "zsh -n _msmtp"; else bad "zsh -n _msmtp"; fi
	# the account helper, with _arguments stubbed (no completion system)
	zacc() {
		HOME="$tmp/home" XDG_CONFIG_HOME= zsh -f -c '
			_arguments() { return 0; }
			source "$1"
			shift
			words=("$@")
			_msmtp_account_names | sort | tr "\n" " "' zacc "$tmp/_msmtp" "$@" 2>&1 | sed 's/ $//'
	}
	check "zsh: account names" "default personal sysacct work" "$(zacc msmtp -a '')"
	check "zsh: account names of the -C file" "other other2 sysacct" \
		"$(zacc msmtp -C "$tmp/other.rc" -a '')"
else
	echo "SKIP zsh (not installed)"
fi

# ---- fish ----------------------------------------------------------------
if command -v fish >/dev/null 2>&1; then
	if fish -n "$tmp/msmtp.fish"; then ok "fish -n msmtp.fish"; else bad "fish -n msmtp.fish"; fi
	fcomp() {
		HOME="$tmp/home" XDG_CONFIG_HOME= fish --no-config -c \
			"source '$tmp/msmtp.fish'; complete -C '$1'" 2>&1 |
			cut -f1 | sort | tr '\n' ' ' | sed 's/ $//'
	}
	check "fish: -a lists the accounts" "default personal sysacct work" \
		"$(fcomp 'msmtp -a ')"
	check "fish: accounts of the -C file" \
		"--account=other --account=other2 --account=sysacct" \
		"$(fcomp "msmtp -C $tmp/other.rc --account=")"
	check "fish: --tls-starttls= values" "--tls-starttls=off --tls-starttls=on" \
		"$(fcomp 'msmtp --tls-starttls=')"
	check "fish: nothing after the first recipient" "" \
		"$(fcomp 'msmtp -a work bob@example.org --tls')"
else
	echo "SKIP fish (not installed)"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
