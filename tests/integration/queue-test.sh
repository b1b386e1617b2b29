#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Automake test: the store-and-forward queue end to end (queue_test.py).
here=$(cd "$(dirname "$0")" && pwd)
exec "${PYTHON3:-python3}" "$here/queue_test.py" "${MSMTP:-$here/../../src/msmtp}"
