#!/usr/bin/env bash
# deploy/site-cert.sh create|env — the site's HTTPS certificate (issue #21). Run as root.
#   create  make a self-signed certificate for the daemon's HTTPS, once: /etc/pbx/tls/pbx.crt and
#           pbx.key (ECDSA P-256, 825 days), CN = PBX_SITE_ADDRESS, subjectAltName = that address,
#           this host's name and addresses, localhost, 127.0.0.1 and ::1. The key is readable only
#           by root and the group pbx (the daemon's user). Kept as it is when present; skipped when
#           PBX_TLS_CERT names another file (the admin's own certificate) or is set empty (no TLS).
#   env     the settings pointing the daemon at it, for `make setup` to add to the env file.
# Renew: delete both files and run `make setup` (or this script) again; then trust the new
# certificate on the phones (docs/operations.md, "HTTPS").
set -euo pipefail
DIR="${PBX_TLS_DIR:-/etc/pbx/tls}"
CERT="$DIR/pbx.crt"
KEY="$DIR/pbx.key"
DAYS=825

log() { printf '[tls] %s\n' "$*"; }
die() { printf '[tls] ERROR: %s\n' "$*" >&2; exit 1; }

case "${1:-}" in
  env)
    echo "PBX_TLS_CERT=$CERT"
    echo "PBX_TLS_KEY=$KEY" ;;
  create)
    [ "$(id -u)" = 0 ] || die "must run as root"
    if [ "${PBX_TLS_CERT+set}" = set ] && [ "${PBX_TLS_CERT}" != "$CERT" ]; then
      if [ -z "$PBX_TLS_CERT" ]; then log "PBX_TLS_CERT is empty: no TLS, no certificate made"
      else log "using the site's own certificate $PBX_TLS_CERT"; fi
      exit 0
    fi
    group=root
    id -u pbx >/dev/null 2>&1 && group=pbx
    # /etc/pbx holds the env file (600): the group may pass through to tls/, not list it.
    parent="$(dirname "$DIR")"
    mkdir -p "$DIR"
    chgrp "$group" "$parent" "$DIR"
    chmod 0710 "$parent"
    chmod 0750 "$DIR"
    if [ -s "$CERT" ] && [ -s "$KEY" ]; then
      chgrp "$group" "$CERT" "$KEY"; chmod 0640 "$KEY"; chmod 0644 "$CERT"
      log "keeping $CERT (valid until $(openssl x509 -in "$CERT" -noout -enddate | cut -d= -f2))"
      exit 0
    fi
    command -v openssl >/dev/null 2>&1 || die "openssl is missing (apt-get install openssl)"
    site="${PBX_SITE_ADDRESS:-127.0.0.1}"
    host="$(hostname -f 2>/dev/null || hostname)"
    san=()
    add() { local e; for e in "${san[@]}"; do [ "$e" = "$1" ] && return 0; done; san+=("$1"); }
    is_ip() { [[ "$1" =~ ^[0-9.]+$ || "$1" == *:* ]]; }
    if is_ip "$site"; then add "IP:$site"; else add "DNS:$site"; fi
    [ -n "$host" ] && add "DNS:$host"
    add "DNS:localhost"; add "IP:127.0.0.1"; add "IP:::1"
    for a in $(hostname -I 2>/dev/null || true); do case "$a" in fe80:*) ;; *) add "IP:$a" ;; esac; done
    list="$(IFS=,; echo "${san[*]}")"
    tmp="$(mktemp -d "$DIR/.new.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    (umask 077
     openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$DAYS" \
       -subj "/O=pbx/CN=$site" -addext "subjectAltName=$list" \
       -keyout "$tmp/pbx.key" -out "$tmp/pbx.crt" 2>/dev/null) || die "openssl could not make the certificate"
    chgrp "$group" "$tmp/pbx.key" "$tmp/pbx.crt"
    chmod 0640 "$tmp/pbx.key"; chmod 0644 "$tmp/pbx.crt"
    mv "$tmp/pbx.key" "$KEY"; mv "$tmp/pbx.crt" "$CERT"
    log "made $CERT for $list (self-signed, $DAYS days); trust it on the phones: docs/operations.md, \"HTTPS\"" ;;
  *) die "usage: $0 create|env" ;;
esac
