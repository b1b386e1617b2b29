#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Automake test: the password prompt on a pseudo-terminal (prompt_test.py).
here=$(cd "$(dirname "$0")" && pwd)
exec "${PYTHON3:-python3}" "$here/prompt_test.py" "${MSMTP:-$here/../../src/msmtp}"
