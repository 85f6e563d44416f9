#!/usr/bin/env bash
# deploy/gen-env.sh FILE — write the site's env file once, with fresh random secrets.
# The daemon (pbx --env-file / PBX_ENV_FILE) and deploy/asterisk-instance.sh both read it, so
# Asterisk's ari.conf/manager.conf/res_pgsql.conf and the daemon always agree. Never committed.
# An existing file is kept as it is (secrets are not rotated behind the admin's back); a secret
# added since it was written (PBX_SECRET_KEY) is appended once.
set -euo pipefail
file="${1:-/etc/pbx/pbx.env}"
# 32 random bytes in base64: PBX_SECRET_KEY seals the SIP passwords phones are provisioned with
# (AES-256-GCM; docs/operations.md "SIP passwords"). Losing or changing it means rotating them all.
secret_key() { head -c 32 /dev/urandom | base64 -w0; }
if [ -f "$file" ]; then
  echo "[env] keeping $file"
  if ! grep -q '^PBX_SECRET_KEY=' "$file"; then
    printf 'PBX_SECRET_KEY=%s\n' "$(secret_key)" >>"$file"
    echo "[env] added PBX_SECRET_KEY to $file"
  fi
  exit 0
fi
umask 077
mkdir -p "$(dirname "$file")"
rand() { head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 32; }
cat >"$file" <<ENV
# pbx site configuration, generated $(date -u +%Y-%m-%dT%H:%M:%SZ) by deploy/gen-env.sh.
# Read by the daemon and by deploy/asterisk-instance.sh. Keep it secret (mode 600).
# Every variable is described in docs/operations.md, "Configuration" (README has the main ones).
PBX_HTTP_HOST=0.0.0.0
PBX_HTTP_PORT=8080
# HTTPS with the site certificate deploy/site-cert.sh makes (install.sh runs it); empty both: plain HTTP.
PBX_TLS_CERT=/etc/pbx/tls/pbx.crt
PBX_TLS_KEY=/etc/pbx/tls/pbx.key
PBX_LOG_LEVEL=info
PBX_DB_HOST=127.0.0.1
PBX_DB_PORT=5432
PBX_DB_NAME=pbx
PBX_DB_USER=pbx
PBX_DB_PASSWORD=$(rand)
PBX_REDIS_URL=redis://127.0.0.1:6379
PBX_REDIS_PASSWORD=$(rand)
PBX_REDIS_PREFIX=pbx
PBX_AST_INSTANCE=main
PBX_SIP_PORT=5060
PBX_ARI_HOST=127.0.0.1
PBX_ARI_PORT=8088
PBX_ARI_USER=pbx
PBX_ARI_PASSWORD=$(rand)
PBX_ARI_APP=pbx
PBX_AMI_HOST=127.0.0.1
PBX_AMI_PORT=5038
PBX_AMI_USER=pbx
PBX_AMI_PASSWORD=$(rand)
PBX_SECRET_KEY=$(secret_key)
ENV
echo "[env] wrote $file with new secrets"
