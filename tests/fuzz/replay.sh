#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# make check: replay every fuzz target over its seed corpus and its
# regression inputs (crashes fuzzing found once).  Built without libFuzzer,
# by any compiler; under --enable-sanitizers the replays run under ASan and
# UBSan too.  One case per target.
srcdir="${top_srcdir:-$(dirname "$0")/../..}/tests/fuzz"
bindir="${top_builddir:-.}/tests/fuzz"
pass=0
fail=0
for t in $(sed -e '/^#/d' -e 's/ .*//' "$srcdir/targets"); do
	dirs=""
	for d in "$srcdir/corpus/$t" "$srcdir/regressions/$t"; do
		[ -d "$d" ] && dirs="$dirs $d"
	done
	# shellcheck disable=SC2086
	if out=$("$bindir/replay-$t" $dirs 2>&1); then
		echo "PASS $t: $out"
		pass=$((pass + 1))
	else
		echo "FAIL $t (replay-$t$dirs):"
		echo "$out" | tail -40
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
