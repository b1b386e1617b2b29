#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# make fuzz-smoke: run every libFuzzer target for FUZZ_SECONDS on a scratch
# copy of its corpus (the tree stays clean), with its dictionary, a bounded
# input length and memory.  Any crash, leak, timeout or out-of-memory fails
# the run; the message names the target and the reproducer, kept under
# fuzz/artifacts/NAME/.  FUZZ_TARGETS="a b" limits the run to some targets.
srcdir="${srcdir:-.}/fuzz"
builddir="${builddir:-.}/fuzz"
secs="${FUZZ_SECONDS:-5}"
scratch="$builddir/smoke"
fail=0
rm -rf "$scratch"
mkdir -p "$scratch" "$builddir/artifacts" || exit 1
sed -e '/^#/d' "$srcdir/targets" | while read -r t maxlen; do
	case " ${FUZZ_TARGETS:-$t} " in *" $t "*) ;; *) continue ;; esac
	mkdir -p "$scratch/$t" "$builddir/artifacts/$t"
	[ -d "$srcdir/corpus/$t" ] && cp "$srcdir/corpus/$t/"* "$scratch/$t/" 2>/dev/null
	dict=""
	[ -f "$srcdir/$t.dict" ] && dict="-dict=$srcdir/$t.dict"
	# shellcheck disable=SC2086
	"$builddir/fuzz-$t" -max_total_time="$secs" -max_len="$maxlen" \
		-rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 \
		-artifact_prefix="$builddir/artifacts/$t/" -print_final_stats=1 \
		$dict "$scratch/$t" >"$scratch/$t.log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/$t.log")
	cov=$(grep -o 'cov: [0-9]*' "$scratch/$t.log" | tail -1)
	if [ "$rc" -ne 0 ]; then
		echo "FAIL fuzz-$t (exit $rc): reproducer in $builddir/artifacts/$t/:"
		ls "$builddir/artifacts/$t/"
		grep -E 'ERROR|SUMMARY|invariant|Test unit written' "$scratch/$t.log" | head -20
		echo "fuzz-$t" >>"$scratch/failed"
	else
		echo "ok   fuzz-$t: ${execs:-?} runs in ${secs}s, $cov"
	fi
done
if [ -s "$scratch/failed" ]; then
	echo "fuzz-smoke: $(wc -l <"$scratch/failed") target(s) failed: $(tr '\n' ' ' <"$scratch/failed")"
	exit 1
fi
rm -rf "$scratch"
echo "fuzz-smoke: every target ran ${secs}s without a finding"
