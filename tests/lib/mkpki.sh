#!/bin/sh
# mkpki.sh OUTDIR — make a throw-away PKI for the TLS tests (openssl, EC P-256, SHA-256).
#
#   ca.pem ca.key               test CA (basicConstraints CA:TRUE, keyUsage keyCertSign)
#   server.pem server.key       localhost, 127.0.0.1, ::1 — signed by the CA (serverAuth)
#   wronghost.pem/.key          CN/SAN not-this-host.example — signed by the CA
#   expired.pem/.key            localhost etc., validity entirely in the past — signed by the CA
#   selfsigned.pem/.key         localhost etc., self-signed (not issued by the CA)
#   unknownca.pem/.key          localhost etc., signed by otherca.pem (never trusted)
#   otherca.pem otherca.key     the second, untrusted CA
#
# Idempotent: when every file exists and server.pem verifies against ca.pem and is valid for
# at least another day, nothing is done. Otherwise everything is made again (well under 1 s).
set -eu

out=${1:?usage: mkpki.sh OUTDIR}
mkdir -p "$out"
cd "$out"

all="ca.pem ca.key otherca.pem otherca.key server.pem server.key wronghost.pem wronghost.key
expired.pem expired.key selfsigned.pem selfsigned.key unknownca.pem unknownca.key"

complete=1
for f in $all; do
	[ -s "$f" ] || complete=0
done
if [ "$complete" = 1 ] &&
	openssl verify -CAfile ca.pem server.pem >/dev/null 2>&1 &&
	openssl x509 -in server.pem -noout -checkend 86400 >/dev/null 2>&1; then
	exit 0
fi

umask 077
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mkpki.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

key() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

# ext_ca / ext_leaf NAME... : write an extension file for openssl x509 -extfile
cat >"$tmp/ca.ext" <<EOT
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOT

leaf_ext() { # leaf_ext FILE SAN
	cat >"$1" <<EOT
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $2
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
EOT
}
local_san="DNS:localhost, IP:127.0.0.1, IP:0:0:0:0:0:0:0:1"
leaf_ext "$tmp/local.ext" "$local_san"
leaf_ext "$tmp/wrong.ext" "DNS:not-this-host.example"
# self-signed leaf: its own issuer, so no authorityKeyIdentifier issuer part
cat >"$tmp/self.ext" <<EOT
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $local_san
subjectKeyIdentifier = hash
EOT

mkca() { # mkca NAME CN
	key "$tmp/$1.key"
	openssl req -new -key "$tmp/$1.key" -subj "/O=ecs-deploy tests/CN=$2" -out "$tmp/$1.csr"
	openssl x509 -req -in "$tmp/$1.csr" -signkey "$tmp/$1.key" -sha256 -days 3650 \
		-set_serial "0x$(openssl rand -hex 8)" -extfile "$tmp/ca.ext" -out "$tmp/$1.pem" 2>/dev/null
}

mkleaf() { # mkleaf NAME CN EXTFILE CA [x509 date options...]
	name=$1 cn=$2 ext=$3 ca=$4
	shift 4
	key "$tmp/$name.key"
	openssl req -new -key "$tmp/$name.key" -subj "/O=ecs-deploy tests/CN=$cn" -out "$tmp/$name.csr"
	openssl x509 -req -in "$tmp/$name.csr" -CA "$tmp/$ca.pem" -CAkey "$tmp/$ca.key" -sha256 \
		-set_serial "0x$(openssl rand -hex 8)" -extfile "$ext" -out "$tmp/$name.pem" "$@" 2>/dev/null
}

mkca ca "ecs-deploy test CA"
mkca otherca "ecs-deploy untrusted CA"
mkleaf server localhost "$tmp/local.ext" ca -days 825
mkleaf wronghost not-this-host.example "$tmp/wrong.ext" ca -days 825
mkleaf unknownca localhost "$tmp/local.ext" otherca -days 825

# expired: openssl x509 has no -not_before/-not_after before 3.4, so sign with `openssl ca`,
# whose -startdate/-enddate take explicit times.
key "$tmp/expired.key"
openssl req -new -key "$tmp/expired.key" -subj "/O=ecs-deploy tests/CN=localhost" -out "$tmp/expired.csr"
mkdir -p "$tmp/cadb"
: >"$tmp/cadb/index.txt"
cat >"$tmp/ca.cnf" <<EOT
[ ca ]
default_ca = test
[ test ]
database = $tmp/cadb/index.txt
new_certs_dir = $tmp/cadb
serial = $tmp/cadb/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[ anything ]
O = optional
CN = supplied
EOT
openssl rand -hex 8 >"$tmp/cadb/serial"
openssl ca -batch -config "$tmp/ca.cnf" -cert "$tmp/ca.pem" -keyfile "$tmp/ca.key" \
	-in "$tmp/expired.csr" -out "$tmp/expired.pem" -notext \
	-startdate 20200101000000Z -enddate 20200201000000Z \
	-extfile "$tmp/local.ext" >/dev/null 2>&1

# self-signed leaf for localhost
key "$tmp/selfsigned.key"
openssl req -new -key "$tmp/selfsigned.key" -subj "/O=ecs-deploy tests/CN=localhost" -out "$tmp/selfsigned.csr"
openssl x509 -req -in "$tmp/selfsigned.csr" -signkey "$tmp/selfsigned.key" -sha256 -days 825 \
	-set_serial "0x$(openssl rand -hex 8)" -extfile "$tmp/self.ext" -out "$tmp/selfsigned.pem" 2>/dev/null

for f in $all; do
	cp "$tmp/$f" "./$f.new"
	mv "./$f.new" "./$f"
done
chmod 644 ./*.pem
exit 0
