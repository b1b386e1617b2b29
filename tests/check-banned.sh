#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Fails when src/ uses a banned unbounded string function (design rule 4).
# strncpy is banned too: it silently truncates and may not terminate.
dir="${top_srcdir:-$(dirname "$0")/..}/src"
hits=$(grep -nE '(^|[^_[:alnum:]])(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|strncpy)[[:space:]]*\(' \
	"$dir"/*.c "$dir"/*.h 2>/dev/null | grep -vE '(snprintf|vsnprintf)\(' )
if [ -n "$hits" ]; then
	echo "banned functions used in src/:"
	echo "$hits"
	echo "0 passed, 1 failed"
	exit 1
fi
echo "PASS banned-function check"
echo "1 passed, 0 failed"
exit 0
