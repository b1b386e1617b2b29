#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Automake test: msmtp --configure against a scripted DNS server and a
# scripted HTTPS server on loopback, and with no network (configure_test.py).
here=$(cd "$(dirname "$0")" && pwd)
exec "${PYTHON3:-python3}" "$here/configure_test.py" "${MSMTP:-$here/../../src/msmtp}"
