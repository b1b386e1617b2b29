#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Automake test: sendmail -bs, SMTP on standard input and output
# (bs_test.py; the real Symfony Mailer when php-symfony-mailer is there).
here=$(cd "$(dirname "$0")" && pwd)
exec "${PYTHON3:-python3}" "$here/bs_test.py" "${MSMTP:-$here/../../src/msmtp}"
