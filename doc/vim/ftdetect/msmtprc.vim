" SPDX-License-Identifier: GPL-3.0-or-later
" msmtp configuration files: the system msmtprc, ~/.msmtprc and
" $XDG_CONFIG_HOME/msmtp/config.
autocmd BufRead,BufNewFile msmtprc,.msmtprc,*/msmtp/config setfiletype msmtprc
