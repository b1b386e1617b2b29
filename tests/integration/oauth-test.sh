#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Automake test: built-in OAuth2 against a fake provider over HTTPS and the
# scripted SMTP server (oauth_test.py).
here=$(cd "$(dirname "$0")" && pwd)
exec "${PYTHON3:-python3}" "$here/oauth_test.py" "${MSMTP:-$here/../../src/msmtp}"
