#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Automake test: the fake OAuth2 provider and fakesmtp's bearer-token check
# do what the OAuth2 tests rely on (fakeoauth_selftest.py).
here=$(cd "$(dirname "$0")" && pwd)
exec "${PYTHON3:-python3}" "$here/fakeoauth_selftest.py"
