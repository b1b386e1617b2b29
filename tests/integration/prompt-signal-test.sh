#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Automake test: a signal at the password prompt restores the terminal
# (prompt_signal_test.py).
here=$(cd "$(dirname "$0")" && pwd)
exec "${PYTHON3:-python3}" "$here/prompt_signal_test.py" "${MSMTP:-$here/../../src/msmtp}"
