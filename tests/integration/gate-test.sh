#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Automake test: the connection gate judges the connected address
# (gate_test.py; needs root for a private /etc/hosts).
here=$(cd "$(dirname "$0")" && pwd)
exec "${PYTHON3:-python3}" "$here/gate_test.py" "${MSMTP:-$here/../../src/msmtp}"
