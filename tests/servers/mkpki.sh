#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Make the test PKI with certtool (gnutls-bin) in OUTDIR:
#   ca.pem/ca.key            test CA
#   good.pem/good.key        localhost + 127.0.0.1, signed by the CA
#   wrongname.pem/.key       wrong.example.test only, signed by the CA
#   expired.pem/.key         localhost, signed by the CA, expired in 2020
#   selfsigned.pem/.key      localhost, self-signed (not from the CA)
#   client.pem/client.key    a client certificate signed by the CA
#   revoked.pem/.key, crl.pem  localhost, signed by the CA, revoked in crl.pem
# Every run makes fresh keys; nothing here is a secret.
set -eu
out=${1:?usage: mkpki.sh OUTDIR}
mkdir -p "$out"
cd "$out"
command -v certtool >/dev/null 2>&1 || { echo "certtool not found (gnutls-bin)" >&2; exit 77; }

key() { certtool --generate-privkey --key-type=ecdsa --outfile "$1.key" >/dev/null 2>&1; }

cat > ca.tmpl <<T
cn = "msmtp test CA"
ca
cert_signing_key
expiration_days = 30
T
key ca
certtool --generate-self-signed --load-privkey ca.key --template ca.tmpl \
	--outfile ca.pem >/dev/null 2>&1

server() { # name template-lines... (signed by the CA)
	name=$1; shift
	printf '%s\n' "$@" > "$name.tmpl"
	key "$name"
	certtool --generate-certificate --load-privkey "$name.key" \
		--load-ca-certificate ca.pem --load-ca-privkey ca.key \
		--template "$name.tmpl" --outfile "$name.pem" >/dev/null 2>&1
}

server good 'cn = "localhost"' 'dns_name = "localhost"' 'ip_address = "127.0.0.1"' \
	'tls_www_server' 'encryption_key' 'signing_key' 'expiration_days = 30'
server wrongname 'cn = "wrong.example.test"' 'dns_name = "wrong.example.test"' \
	'tls_www_server' 'encryption_key' 'signing_key' 'expiration_days = 30'
server expired 'cn = "localhost"' 'dns_name = "localhost"' 'ip_address = "127.0.0.1"' \
	'tls_www_server' 'encryption_key' 'signing_key' \
	'activation_date = "2019-01-01 00:00:00 UTC"' 'expiration_date = "2020-01-01 00:00:00 UTC"'
server client 'cn = "client.example.test"' 'tls_www_client' 'signing_key' \
	'expiration_days = 30'

server revoked 'cn = "localhost"' 'dns_name = "localhost"' 'ip_address = "127.0.0.1"' \
	'tls_www_server' 'encryption_key' 'signing_key' 'expiration_days = 30'
printf '%s\n' 'crl_next_update = 30' 'crl_number = 1' > crl.tmpl
certtool --generate-crl --load-ca-privkey ca.key --load-ca-certificate ca.pem \
	--load-certificate revoked.pem --template crl.tmpl --outfile crl.pem >/dev/null 2>&1

printf '%s\n' 'cn = "localhost"' 'dns_name = "localhost"' 'ip_address = "127.0.0.1"' \
	'tls_www_server' 'encryption_key' 'signing_key' 'expiration_days = 30' > selfsigned.tmpl
key selfsigned
certtool --generate-self-signed --load-privkey selfsigned.key \
	--template selfsigned.tmpl --outfile selfsigned.pem >/dev/null 2>&1
rm -f ./*.tmpl
echo "$out"
