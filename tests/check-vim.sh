#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The vim syntax for msmtprc (doc/vim): every configuration command of
# src/conf.c is in it; where vim is installed, it loads without an error
# under `vim -Nu NONE -es`, the ftdetect file gives ~/.msmtprc,
# */msmtp/config and msmtprc the filetype, and a sample file gets the
# expected groups (comment, section, command, value, unknown command).
top="${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}"
syn="$top/doc/vim/syntax/msmtprc.vim"
pass=0 fail=0
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT

ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; shift; [ $# -gt 0 ] && printf '    %s\n' "$@"; fail=$((fail + 1)); }

cmds=$(sed -n '/^static const struct command commands\[\] = {/,/^};/p' "$top/src/conf.c" |
	grep -o '^[[:space:]]*{ "[a-z0-9_]*"' | grep -o '"[^"]*"' | tr -d '"')
missing=
for c in $cmds account defaults eval; do
	grep -qF "\"^\\s*$c\\>\"" "$syn" || missing="$missing $c"
done
if [ "$(echo "$cmds" | wc -l)" -lt 50 ]; then
	bad "command table found in src/conf.c"
elif [ -z "$missing" ]; then
	ok "every command of conf.c in msmtprc.vim"
else
	bad "every command of conf.c in msmtprc.vim" "missing:$missing"
fi

# vim-tiny has no syntax support: only a full vim counts
if ! command -v vim >/dev/null 2>&1 || ! vim --version 2>/dev/null | grep -q '+syntax'; then
	echo "SKIP vim (not installed, or without +syntax)"
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
fi

mkdir -p "$tmp/home/.config/msmtp"
printf '# a comment\naccount work : base\n  host mail.example.org\ntls on\nfrobnicate yes\ndefaults\n' \
	>"$tmp/home/.msmtprc"
cp "$tmp/home/.msmtprc" "$tmp/home/.config/msmtp/config"
cp "$tmp/home/.msmtprc" "$tmp/msmtprc"
# group name at (line, col) of the current buffer, one a line
cat >"$tmp/probe.vim" <<'EOF'
function! Probe(out)
  let l:r = [&filetype]
  for [l, c] in [[1, 1], [2, 1], [2, 9], [3, 3], [4, 5], [5, 1], [6, 1]]
    call add(l:r, synIDattr(synID(l, c, 1), 'name'))
  endfor
  call writefile(l:r, a:out)
endfunction
EOF
want="msmtprc msmtprcComment msmtprcAccount msmtprcAcctName msmtprcCommand msmtprcValue msmtprcUnknown msmtprcSection"
for f in "$tmp/home/.msmtprc" "$tmp/home/.config/msmtp/config" "$tmp/msmtprc"; do
	rm -f "$tmp/out"
	HOME="$tmp/home" vim -Nu NONE -i NONE -es \
		--cmd "set rtp^=$top/doc/vim" -c 'filetype on' -c 'syntax on' \
		-c "source $tmp/probe.vim" -c "edit $f" -c "call Probe('$tmp/out')" \
		-c 'qa!' </dev/null >"$tmp/vim.log" 2>&1
	got=$(tr '\n' ' ' <"$tmp/out" 2>/dev/null | sed 's/ $//')
	name=${f#"$tmp"/}
	if [ "$got" = "$want" ]; then ok "vim: $name highlighted"
	else bad "vim: $name highlighted" "want: $want" "got:  $got" "$(cat "$tmp/vim.log")"; fi
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
