#!/usr/bin/env bash
# deploy/install.sh — idempotent machine setup for the pbx control plane. Run as root.
#
# Installs/starts PostgreSQL and Redis, installs SIPp (sip-tester), debootstrap and the prompt tools
# (sox, libsox-fmt-mp3, espeak-ng), and provides
# Asterisk >= 20:
#   * from the distro package when the distro has one of major >= 20 (e.g. Ubuntu 24.04), or
#   * as a cached Debian sid root at $PBX_ASTERISK_CACHE (default /var/cache/pbx/asterisk-root),
#     built with debootstrap into a temp dir and renamed into place only once complete.
# A second run on a ready machine only checks and takes a few seconds.
#
# Optional environment:
#   PBX_DB_USER / PBX_DB_PASSWORD  role the daemon and Asterisk use over 127.0.0.1 (default postgres);
#                        created/given that password when it cannot log in yet
#   PBX_DB_NAME          database to create (owned by PBX_DB_USER) if missing
#   PBX_REDIS_PASSWORD   Redis password (gen-env.sh writes one): required of the Redis this script
#                        starts; an existing Redis without a password is left as it is (a warning)
#                        unless PBX_REDIS_REQUIREPASS=1, which sets it there (CONFIG SET + REWRITE)
#   PBX_ASTERISK_CACHE   where the sid root lives (default /var/cache/pbx/asterisk-root)
#   PBX_DEBIAN_MIRROR    Debian mirror for debootstrap (default http://deb.debian.org/debian)
#   PBX_INSTALL_FORCE_ROOT=1  use the sid root even if a distro asterisk exists
#   PBX_TLS_CERT         the site's own HTTPS certificate: then none is made; unset, a self-signed
#                        one is made once in /etc/pbx/tls (deploy/site-cert.sh); empty: no TLS
set -euo pipefail

log() { printf '[install] %s\n' "$*"; }
die() { printf '[install] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"

export DEBIAN_FRONTEND=noninteractive
ASTERISK_CACHE="${PBX_ASTERISK_CACHE:-/var/cache/pbx/asterisk-root}"
MIRROR="${PBX_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
ROOT_MARKER_NAME=".pbx-asterisk-root-complete"
# Bump when the package set inside the root changes, to force a rebuild.
ROOT_VERSION="3"

APT_UPDATED=0
apt_update_once() {
  if [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"
    apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
}
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
apt_install() {
  local missing=() p
  for p in "$@"; do have_pkg "$p" || missing+=("$p"); done
  [ "${#missing[@]}" = 0 ] && return 0
  apt_update_once
  log "apt-get install ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ---------------------------------------------------------------- PostgreSQL
pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; }
if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
  apt_install postgresql
fi
if ! pg_ready; then
  for vdir in /etc/postgresql/*/; do
    v="$(basename "$vdir")"
    if ! pg_lsclusters -h 2>/dev/null | awk -v v="$v" '$1==v && $2=="main"' | grep -q .; then
      pg_createcluster "$v" main >/dev/null
    fi
    log "starting PostgreSQL $v"
    pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
  done
  for _ in $(seq 1 30); do pg_ready && break; sleep 0.5; done
  pg_ready || die "PostgreSQL does not answer on 127.0.0.1:5432"
fi
# The daemon and Asterisk connect over TCP as PBX_DB_USER with PBX_DB_PASSWORD (both from the env
# file that deploy/gen-env.sh writes). Make sure that role exists, may log in with that password,
# and may create databases (each test run makes its own). Not a superuser. Idempotent.
DB_USER="${PBX_DB_USER:-postgres}"
if [ "$DB_USER" != postgres ]; then
  runuser -u postgres -- psql -qAt -v ON_ERROR_STOP=1 -v u="$DB_USER" -v p="${PBX_DB_PASSWORD:-}" <<'SQL' >/dev/null
SELECT format('CREATE ROLE %I LOGIN', :'u') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'u') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN CREATEDB PASSWORD %L', :'u', :'p') WHERE :'p' <> '' \gexec
SELECT format('ALTER ROLE %I WITH LOGIN CREATEDB', :'u') WHERE :'p' = '' \gexec
SQL
fi
if ! PGPASSWORD="${PBX_DB_PASSWORD:-}" PGCONNECT_TIMEOUT=3 psql -h 127.0.0.1 -U "$DB_USER" -d postgres -Atqc 'select 1' </dev/null >/dev/null 2>&1; then
  log "WARNING: cannot log in to PostgreSQL as '$DB_USER' over 127.0.0.1 with PBX_DB_PASSWORD;"
  log "         check pg_hba.conf allows password (scram-sha-256) or trust logins from 127.0.0.1"
fi

# Create PBX_DB_NAME (owned by PBX_DB_USER) when given and missing.
if [ -n "${PBX_DB_NAME:-}" ]; then
  if ! runuser -u postgres -- psql -qAt -v d="$PBX_DB_NAME" <<'SQL' 2>/dev/null | grep -q 1
SELECT 1 FROM pg_database WHERE datname = :'d'
SQL
  then
    log "creating database $PBX_DB_NAME"
    runuser -u postgres -- createdb -O "$DB_USER" "$PBX_DB_NAME" || log "WARNING: could not create database $PBX_DB_NAME"
  fi
fi

# ---------------------------------------------------------------- Redis
# The password (PBX_REDIS_PASSWORD) travels in REDISCLI_AUTH and on stdin, never on a command line.
REDIS_PASSWORD="${PBX_REDIS_PASSWORD:-}"
redis_cmd() { # $1 = with|without the password, then the command
  local how="$1"; shift
  if [ "$how" = with ] && [ -n "$REDIS_PASSWORD" ]; then
    REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli --no-auth-warning -h 127.0.0.1 -p 6379 "$@" 2>&1
  else
    env -u REDISCLI_AUTH redis-cli -h 127.0.0.1 -p 6379 "$@" 2>&1
  fi
}
redis_ready() { redis_cmd with ping | grep -q PONG; }
redis_open() { redis_cmd without ping | grep -q PONG; } # answers without any password
# The job queues (BullMQ) want `appendonly yes` (queued jobs survive a Redis restart) and
# `maxmemory-policy noeviction` (an evicting Redis drops jobs): a Redis this script installs or
# starts gets both; one that was already running is left as it is (`pbx doctor` reports it).
# docs/operations.md, "Redis".
REDIS_INSTALLED=0 REDIS_STARTED=0
if ! command -v redis-server >/dev/null 2>&1; then apt_install redis-server; REDIS_INSTALLED=1; fi
if ! redis_cmd without ping | grep -qE 'PONG|NOAUTH'; then
  log "starting Redis (appendonly yes in /var/lib/pbx-redis, maxmemory-policy noeviction)"
  install -d -m 700 /var/lib/pbx-redis
  { [ -n "$REDIS_PASSWORD" ] && printf 'requirepass %s\n' "$REDIS_PASSWORD"; true; } |
    redis-server - --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
      --dir /var/lib/pbx-redis --appendonly yes --maxmemory-policy noeviction >/dev/null
  for _ in $(seq 1 20); do redis_ready && break; sleep 0.25; done
  redis_ready || die "Redis does not answer on 127.0.0.1:6379"
  REDIS_STARTED=1
elif [ -n "$REDIS_PASSWORD" ] && redis_open; then
  # A Redis that was already running without a password (the distro's service, or one other
  # programs share): changing it could lock them out, so only when the admin asks.
  if [ "${PBX_REDIS_REQUIREPASS:-0}" = 1 ]; then
    log "setting the Redis password (requirepass) on the running Redis"
    printf 'CONFIG SET requirepass "%s"\n' "$REDIS_PASSWORD" | redis_cmd without >/dev/null
    redis_ready || die "Redis did not take the password"
    redis_cmd with config rewrite | grep -q OK ||
      log "WARNING: Redis has no config file to keep requirepass in: it lasts until Redis restarts"
  else
    log "WARNING: Redis on 127.0.0.1:6379 runs without a password; PBX_REDIS_PASSWORD is not enforced."
    log "         PBX_REDIS_REQUIREPASS=1 make setup sets it there (anything else using this Redis then needs it)."
  fi
elif ! redis_ready; then
  die "Redis on 127.0.0.1:6379 wants a password and PBX_REDIS_PASSWORD is not it (or is unset)"
fi
redis_setting() { redis_cmd with config get "$1" | sed -n 2p; } # empty when CONFIG is disabled
if [ "$REDIS_INSTALLED" = 1 ] && [ "$REDIS_STARTED" = 0 ]; then
  # The package just installed started its own service (/etc/redis/redis.conf): ours to configure.
  log "configuring the Redis just installed: appendonly yes, maxmemory-policy noeviction"
  redis_cmd with config set appendonly yes | grep -q OK || log "WARNING: Redis refused appendonly yes"
  redis_cmd with config set maxmemory-policy noeviction | grep -q OK || log "WARNING: Redis refused maxmemory-policy noeviction"
  redis_cmd with config rewrite | grep -q OK ||
    log "WARNING: Redis has no config file to keep these settings in: they last until Redis restarts"
elif [ "$REDIS_STARTED" = 0 ]; then
  aof="$(redis_setting appendonly)" policy="$(redis_setting maxmemory-policy)"
  if [ -n "$aof" ] && { [ "$aof" != yes ] || [ "$policy" != noeviction ]; }; then
    log "WARNING: the Redis already running has appendonly $aof, maxmemory-policy $policy; the job queues want"
    log "         appendonly yes and maxmemory-policy noeviction in its redis.conf (left as it is; see pbx doctor)"
  fi
fi

# ---------------------------------------------------------------- tools
# sip-tester = SIPp with pcap play (RFC 4733 DTMF pcaps in /usr/share/sip-tester)
apt_install sip-tester debootstrap netcat-openbsd ca-certificates perl
# baresip-core: a softphone with SIP over TLS and SRTP (SDES) for the e2e tests of transport-tls
# (test/e2e/sip-tls.test.ts); Debian's SIPp is built without TLS.
apt_install baresip-core
# chromium and firefox-esr: the e2e test of the wallboard page drives Debian's headless Chromium
# (over CDP) and Firefox ESR (over WebDriver BiDi) with puppeteer-core, both watching the same calls
# (test/e2e/wallboard.test.ts); no browser is downloaded. firefox-esr: about 300 MB, 8 s to install.
apt_install chromium firefox-esr
# curl and jq: the README's first steps (its api helper; jq reads ids from answers).
apt_install curl jq
# fail2ban: the site bans SIP and API brute force with the filters in deploy/fail2ban (enabling the
# jail is a site decision, see deploy/README-site.md); the tests check those filters with fail2ban-regex.
# python3-systemd: fail2ban's systemd backend, which the pbx-auth jail uses to read the journal
# (without it that jail does not start). systemd-journal-remote: the tests write a real journal
# file with it for fail2ban to read; Debian enables none of its units.
apt_install fail2ban python3-systemd systemd-journal-remote
# IVR prompts: sox converts uploads (libsox-fmt-mp3 reads MP3) to 8/16 kHz; espeak-ng speaks text offline.
# Call recordings: sox compresses them to MP3 after the call (libsox-fmt-mp3 writes it, with LAME).
apt_install sox libsox-fmt-mp3 espeak-ng

# ---------------------------------------------------------------- the daemon's user
# deploy/systemd/pbx.service runs the daemon as pbx (`make run` as whoever starts it). It writes
# /var/lib/pbx (voicemail audio; systemd's StateDirectory) and the Asterisk instances' prompts
# folders, which deploy/asterisk-instance.sh gives to this user. That script also makes the user
# Asterisk runs as (asterisk, never root; in the cached root too, with the same ids), at each start:
# see deploy/README-site.md, "Users, permissions and secrets".
if ! id -u pbx >/dev/null 2>&1; then
  useradd --system --user-group --home-dir /var/lib/pbx --no-create-home --shell /usr/sbin/nologin pbx
  log "system user pbx created"
fi

# ---------------------------------------------------------------- the site's HTTPS certificate
# Self-signed, made once (kept on later runs); the key readable by root and the group pbx only.
apt_install openssl
bash "$(dirname "$0")/site-cert.sh" create

# ---------------------------------------------------------------- Asterisk
ast_major() { # $1 = path to asterisk binary (run via chroot if $2 set)
  local v
  if [ -n "${2:-}" ]; then v="$(chroot "$2" /usr/sbin/asterisk -V 2>/dev/null || true)"
  else v="$("$1" -V 2>/dev/null || true)"; fi
  v="${v#Asterisk }"; v="${v%%.*}"
  case "$v" in ''|*[!0-9]*) echo 0 ;; *) echo "$v" ;; esac
}

host_ast_ok() { [ -x /usr/sbin/asterisk ] && [ "$(ast_major /usr/sbin/asterisk)" -ge 20 ]; }

distro_asterisk_major() {
  local cand
  cand="$(apt-cache policy asterisk 2>/dev/null | awk '/Candidate:/ {print $2}')"
  case "$cand" in ''|'(none)') echo 0; return ;; esac
  cand="${cand#*:}"; cand="${cand%%.*}"
  case "$cand" in ''|*[!0-9]*) echo 0 ;; *) echo "$cand" ;; esac
}

if [ "${PBX_INSTALL_FORCE_ROOT:-0}" != 1 ] && host_ast_ok; then
  log "Asterisk $(/usr/sbin/asterisk -V | sed 's/^Asterisk //') on the host (ASTERISK_ROOT=\"\")"
  exit 0
fi

if [ "${PBX_INSTALL_FORCE_ROOT:-0}" != 1 ] && [ ! -f "$ASTERISK_CACHE/$ROOT_MARKER_NAME" ]; then
  # Only consult apt when we'd otherwise have to build the root.
  apt_update_once
  if [ "$(distro_asterisk_major)" -ge 20 ]; then
    log "installing the distro's Asterisk package"
    apt_install asterisk asterisk-modules asterisk-core-sounds-en-gsm
    # res_config_pgsql lives in asterisk-modules on Debian/Ubuntu; older splits had asterisk-config-pgsql
    if ! ls /usr/lib/*/asterisk/modules/res_config_pgsql.so /usr/lib/asterisk/modules/res_config_pgsql.so >/dev/null 2>&1; then
      apt-get install -y -qq asterisk-config-pgsql >/dev/null 2>&1 || log "WARNING: res_config_pgsql.so not found"
    fi
    apt-get install -y -qq asterisk-moh-opsound-gsm >/dev/null 2>&1 || true
    # The distro service would grab 5060/8088/5038: pbx runs its own instances.
    if command -v systemctl >/dev/null 2>&1; then systemctl disable --now asterisk >/dev/null 2>&1 || true; fi
    /usr/sbin/asterisk -rx 'core stop now' >/dev/null 2>&1 || true
    host_ast_ok || die "distro Asterisk installed but /usr/sbin/asterisk is not >= 20"
    log "Asterisk $(/usr/sbin/asterisk -V | sed 's/^Asterisk //') on the host (ASTERISK_ROOT=\"\")"
    exit 0
  fi
fi

root_is_current() {
  [ -f "$ASTERISK_CACHE/$ROOT_MARKER_NAME" ] && grep -qx "version=$ROOT_VERSION" "$ASTERISK_CACHE/$ROOT_MARKER_NAME"
}

if root_is_current; then
  # mktemp made the root 700: the daemon, running as pbx, reaches the prompts folder and the
  # fallback's spool file inside it (as any / is, the root is 755). Roots built before this fix too.
  chmod 755 "$ASTERISK_CACHE"
  log "Asterisk $(sed -n 's/^asterisk=//p' "$ASTERISK_CACHE/$ROOT_MARKER_NAME") root ready (ASTERISK_ROOT=$ASTERISK_CACHE)"
  exit 0
fi

parent="$(dirname "$ASTERISK_CACHE")"
mkdir -p "$parent"
# Leftovers from interrupted builds are never reused.
rm -rf "$parent"/.asterisk-root.build.* 2>/dev/null || true
tmp="$(mktemp -d "$parent/.asterisk-root.build.XXXXXX")"
cleanup_tmp() { rm -rf "$tmp"; }
trap cleanup_tmp EXIT

log "building Asterisk 22 root in $ASTERISK_CACHE (Debian sid via debootstrap; about 1-2 minutes)..."
start_ts=$(date +%s)
if ! debootstrap --variant=minbase sid "$tmp" "$MIRROR" >"$tmp.debootstrap.log" 2>&1; then
  tail -n 20 "$tmp.debootstrap.log" >&2 || true
  rm -f "$tmp.debootstrap.log"
  die "debootstrap failed"
fi
rm -f "$tmp.debootstrap.log"
log "base system ready after $(( $(date +%s) - start_ts ))s; installing asterisk packages..."

cat >"$tmp/etc/apt/apt.conf.d/99pbx" <<'APTCONF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
APT::Sandbox::User "root";
// The mirror's sid Release file can look expired when the clock runs ahead of it.
Acquire::Check-Valid-Until "false";
APTCONF
# No daemons may start inside the chroot during package installation.
printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
chmod +x "$tmp/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$tmp/etc/resolv.conf" 2>/dev/null || true

in_root() { chroot "$tmp" env DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }
in_root apt-get update -qq >"$tmp/tmp/apt-update.log" 2>&1 || { cat "$tmp/tmp/apt-update.log" >&2; die "apt-get update in the sid root failed"; }
rm -f "$tmp/tmp/apt-update.log"
# Core sounds in English plus French, Spanish and Italian (about 4 MB each): an IVR flow's
# built-in prompts play in its language when the set exists, in English otherwise.
pkgs="asterisk asterisk-modules asterisk-core-sounds-en-gsm"
for lang in fr es it; do
  if in_root apt-cache show "asterisk-core-sounds-$lang-gsm" >/dev/null 2>&1; then pkgs="$pkgs asterisk-core-sounds-$lang-gsm"; fi
done
if in_root apt-cache show asterisk-moh-opsound-gsm >/dev/null 2>&1; then
  pkgs="$pkgs asterisk-moh-opsound-gsm"
fi
# shellcheck disable=SC2086
if ! in_root apt-get install -y -qq $pkgs >"$tmp/tmp/apt-install.log" 2>&1; then
  tail -n 30 "$tmp/tmp/apt-install.log" >&2 || true
  die "installing asterisk in the sid root failed"
fi
rm -f "$tmp/tmp/apt-install.log"
in_root apt-get clean >/dev/null 2>&1 || true
# Asterisk looks for sounds in sounds/<language>/; only English gets that link from the packages.
for d in "$tmp"/usr/share/asterisk/sounds/[a-z][a-z]_*; do
  [ -d "$d" ] || continue
  lang="$(basename "$d")"; lang="${lang%%_*}"
  link="$tmp/usr/share/asterisk/sounds/$lang"
  [ -e "$link" ] || [ -L "$link" ] || ln -s "$(basename "$d")" "$link"
done

modir="$(in_root sh -c 'ls -d /usr/lib/*/asterisk/modules /usr/lib/asterisk/modules 2>/dev/null | head -n1')"
if [ -z "$modir" ] || [ ! -f "$tmp$modir/res_config_pgsql.so" ]; then die "res_config_pgsql.so missing in the sid root"; fi
astver="$(chroot "$tmp" /usr/sbin/asterisk -V | sed 's/^Asterisk //')"
case "$astver" in 2[0-9].*|[3-9][0-9].*) ;; *) die "unexpected Asterisk version in root: $astver" ;; esac
# Asterisk needs these writable even for -rx; instances get their own dirs too.
mkdir -p "$tmp/var/lib/asterisk" "$tmp/var/spool/asterisk" "$tmp/var/log/asterisk" "$tmp/var/run/asterisk" \
  "$tmp/var/lib/pbx-instances"

printf 'version=%s\nasterisk=%s\nbuilt=%s\n' "$ROOT_VERSION" "$astver" "$(date -u +%FT%TZ)" >"$tmp/$ROOT_MARKER_NAME"
chmod 755 "$tmp" # mktemp's 700 would keep the daemon (user pbx) from its prompts folder inside

# Atomic swap: the old root (if any, e.g. older ROOT_VERSION) is moved aside then removed.
if [ -e "$ASTERISK_CACHE" ]; then
  old="$parent/.asterisk-root.old.$$"
  mv "$ASTERISK_CACHE" "$old"
  mv "$tmp" "$ASTERISK_CACHE"
  rm -rf "$old"
else
  mv "$tmp" "$ASTERISK_CACHE"
fi
trap - EXIT
log "Asterisk $astver root ready after $(( $(date +%s) - start_ts ))s (ASTERISK_ROOT=$ASTERISK_CACHE)"
