" SPDX-License-Identifier: GPL-3.0-or-later
" Vim syntax file for msmtp configuration files (msmtprc, ~/.msmtprc,
" ~/.config/msmtp/config).  The commands are msmtp-ng's, all of them
" (tests/check-vim.sh keeps the list complete against src/conf.c).

if exists("b:current_syntax")
  finish
endif

let s:cpo_save = &cpo
set cpo&vim

syn case match

" A line starts with a command; what follows is its argument.
syn match   msmtprcUnknown  "^\s*\S\+"
syn region  msmtprcString   start=+"+ skip=+\\\\\|\\"+ end=+"+ oneline contained
syn keyword msmtprcValue    contained on off auto
syn match   msmtprcNumber   "\<\d\+\>" contained

syn match   msmtprcArgs     "\s.*$" contained contains=msmtprcString,msmtprcValue,msmtprcNumber

" Comments: whole lines starting with '#' (after the catch-all above, so
" they win over it).
syn match   msmtprcComment  "^\s*#.*$" contains=msmtprcTodo
syn keyword msmtprcTodo     contained TODO FIXME XXX NOTE

" Sections: defaults, and account NAME [: PARENT[,PARENT...]].
syn match   msmtprcSection  "^\s*defaults\>"
syn match   msmtprcAccount  "^\s*account\>" nextgroup=msmtprcAcctName skipwhite
syn match   msmtprcAcctName "[^: \t]\+" contained nextgroup=msmtprcAcctSep skipwhite
syn match   msmtprcAcctSep  ":" contained nextgroup=msmtprcAcctName skipwhite
syn match   msmtprcEval     "^\s*eval\>" nextgroup=msmtprcArgs

" Every command src/conf.c knows (the last ones are legacy spellings).
syn match   msmtprcCommand  "^\s*host\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*port\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*source_ip\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*proxy_host\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*proxy_port\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*socket\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*ip_family\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*timeout\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*connect_timeout\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*protocol\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*domain\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*auth\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*user\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*password\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*passwordeval\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*ntlmdomain\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*tls\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*tls_starttls\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*tls_trust_file\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*tls_crl_file\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*tls_fingerprint\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*tls_key_file\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*tls_cert_file\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*tls_certcheck\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*tls_priorities\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*tls_host_override\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*tls_min_dh_prime_bits\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*tls_session_cache\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*from\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*from_full_name\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*allow_from_override\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*dsn_notify\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*dsn_return\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*set_from_header\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*set_date_header\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*set_msgid_header\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*set_to_header\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*remove_bcc_headers\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*partial_delivery\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*chunking\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*queue\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*queue_dir\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*queue_lifetime\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*queue_backoff\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*queue_notify\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*queue_opportunistic\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*failover\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*logfile\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*logfile_time_format\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*logfile_format\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*syslog\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*aliases\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*oauth2_provider\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*oauth2_client_id\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*oauth2_client_secret\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*oauth2_tenant\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*oauth2_scope\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*oauth2_flow\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*oauth2_auth_endpoint\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*oauth2_token_endpoint\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*oauth2_device_endpoint\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*oauth2_refresh_margin\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*oauth2_token_store\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*oauth2_trust_file\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*undisclosed_recipients\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*keepbcc\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*add_missing_from_header\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*add_missing_date_header\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*tls_nocertcheck\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*tls_nostarttls\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*tls_force_sslv3\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*auto_from\>" nextgroup=msmtprcArgs
syn match   msmtprcCommand  "^\s*maildomain\>" nextgroup=msmtprcArgs

hi def link msmtprcComment  Comment
hi def link msmtprcTodo     Todo
hi def link msmtprcUnknown  Error
hi def link msmtprcCommand  Keyword
hi def link msmtprcSection  Statement
hi def link msmtprcAccount  Statement
hi def link msmtprcEval     PreProc
hi def link msmtprcAcctName Identifier
hi def link msmtprcAcctSep  Delimiter
hi def link msmtprcString   String
hi def link msmtprcValue    Constant
hi def link msmtprcNumber   Number

let b:current_syntax = "msmtprc"

let &cpo = s:cpo_save
unlet s:cpo_save
