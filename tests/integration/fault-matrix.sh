#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Automake test: the fault matrix (fault_matrix.py) - every stage x every
# fault, client and -bs; the table goes to tests/fault-matrix.md in the
# build directory and must equal the committed doc/fault-matrix.md.
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$here/../..}"
: "${top_builddir:=$top_srcdir}"
: "${MSMTP:=$top_builddir/src/msmtp}"
exec "${PYTHON3:-python3}" "$here/fault_matrix.py" --msmtp "$MSMTP" \
	--out "$top_builddir/tests/fault-matrix.md" \
	--doc "$top_srcdir/doc/fault-matrix.md"
