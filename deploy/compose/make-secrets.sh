#!/usr/bin/env bash
# Makes the secret files of prod.yaml in ./secrets (or DIR): random passwords and keys, each written once and
# never overwritten, so running it again only adds what is missing. The database and Redis URLs are made from
# the same passwords as the servers' own files.
#
#   deploy/compose/make-secrets.sh [DIR] [--self-signed HOSTNAME]
#
# TLS: put your certificate chain and key in DIR/tls_certificate.pem and DIR/tls_private_key.pem, or pass
# --self-signed HOSTNAME for a trial certificate (browsers and clients will not trust it).
set -euo pipefail
umask 077

DIR=$(dirname "$0")/secrets
SELF_SIGNED=
while [[ $# -gt 0 ]]; do
    case $1 in
        --self-signed) SELF_SIGNED=${2:?--self-signed needs a host name}; shift 2 ;;
        *) DIR=$1; shift ;;
    esac
done
mkdir -p "$DIR"
# Only the owner may enter the directory; the files themselves are readable by every user, because Compose
# bind-mounts them unchanged and the servers read them under their own UIDs (postgres 999, membank 10001...).
chmod 700 "$DIR"

# write NAME CONTENT: DIR/NAME with CONTENT, unless it exists.
write() {
    if [[ ! -e $DIR/$1 ]]; then
        printf '%s\n' "$2" >"$DIR/$1"
        chmod 444 "$DIR/$1"
        echo "made $DIR/$1" >&2
    fi
}

# read_or_make NAME: the password kept in DIR/NAME (made now if missing).
read_or_make() {
    write "$1" "$(openssl rand -hex 32)"
    tr -d '\n' <"$DIR/$1"
}

postgres_password=$(read_or_make postgres_password)
write membank_database_url "postgresql://membank:$postgres_password@postgres:5432/membank"

redis_password=$(read_or_make redis_password)
write redis.conf "requirepass $redis_password"
write membank_redis_url "redis://:$redis_password@redis:6379/0"

qdrant_api_key=$(read_or_make membank_qdrant_api_key)
write qdrant.yaml "service:
  api_key: $qdrant_api_key"

write membank_auth_secret_key "$(openssl rand -base64 32)"
write membank_admin_api_key "$(openssl rand -hex 32)"
write grafana_admin_password "$(openssl rand -hex 16)"

if [[ -n $SELF_SIGNED && ! -e $DIR/tls_certificate.pem ]]; then
    openssl req -x509 -newkey rsa:3072 -sha256 -days 30 -nodes -subj "/CN=$SELF_SIGNED" \
        -addext "subjectAltName=DNS:$SELF_SIGNED" \
        -keyout "$DIR/tls_private_key.pem" -out "$DIR/tls_certificate.pem" 2>/dev/null
    chmod 444 "$DIR/tls_private_key.pem" "$DIR/tls_certificate.pem"
    echo "made a self-signed certificate for $SELF_SIGNED (30 days)" >&2
fi
for file in tls_certificate.pem tls_private_key.pem; do
    [[ -e $DIR/$file ]] || echo "missing $DIR/$file: your TLS certificate chain and key (or --self-signed HOSTNAME)" >&2
done
