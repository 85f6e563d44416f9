#!/usr/bin/env bash
# deploy/logrotate.sh — log rotation of a pbx site: the daemon's log file, Asterisk's logs and the
# dialplan fallback's spool file (deploy/logrotate/pbx.conf.in says how each is rotated and why).
#
#   render    print the configuration for this host (the env file loaded, as make does)
#   install   write it to /etc/logrotate.d/pbx on a systemd host (logrotate.timer runs it daily),
#             after `logrotate -d` accepted it; elsewhere say so and do nothing. `make setup` runs it.
#
# Environment: PBX_ENV_FILE (default /etc/pbx/pbx.env: read by the spool file's check),
# PBX_UNSERVED_FILE (else the instance's spool/pbx-unserved.log); tests set
# PBX_LOGROTATE_AST_LOG_DIR, PBX_LOGROTATE_DAEMON_LOG_DIR and PBX_LOGROTATE_RELOAD (a command).
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true # bash 5.2: '&' in a replacement is literal

here="$(cd "$(dirname "$0")" && pwd)"
log() { printf '[logrotate] %s\n' "$*"; }

render() {
  local env_file="${PBX_ENV_FILE:-/etc/pbx/pbx.env}" inst="" ast_log unserved reload daemon_log conf
  if [ -z "${PBX_LOGROTATE_AST_LOG_DIR:-}" ] || [ -z "${PBX_UNSERVED_FILE:-}" ]; then inst="$(bash "$here/asterisk-instance.sh" path)"; fi
  ast_log="${PBX_LOGROTATE_AST_LOG_DIR:-$inst/log}"
  unserved="${PBX_UNSERVED_FILE:-$inst/spool/pbx-unserved.log}"
  daemon_log="${PBX_LOGROTATE_DAEMON_LOG_DIR:-/var/log/pbx}"
  reload="${PBX_LOGROTATE_RELOAD:-set -a; . '$env_file'; set +a; /bin/bash '$here/asterisk-instance.sh' rx 'logger reload'}"
  conf="$(cat "$here/logrotate/pbx.conf.in")"
  conf="${conf//@DAEMON_LOG_DIR@/$daemon_log}"
  conf="${conf//@AST_LOG_DIR@/$ast_log}"
  conf="${conf//@AST_RELOAD@/$reload}"
  conf="${conf//@UNSERVED_FILE@/$unserved}"
  conf="${conf//@ENV_FILE@/$env_file}"
  printf '%s\n' "$conf"
}

case "${1:-}" in
  render) render ;;
  install)
    if [ ! -d /run/systemd/system ]; then
      log "no systemd here: /etc/logrotate.d/pbx not installed (deploy/logrotate.sh render prints it)"
      exit 0
    fi
    command -v logrotate >/dev/null 2>&1 || { log "apt-get install logrotate"; apt-get install -y -qq logrotate >/dev/null; }
    tmp="$(mktemp)"; trap 'rm -f "$tmp" "$tmp.state"' EXIT
    render >"$tmp"
    logrotate -d -s "$tmp.state" "$tmp" >/dev/null 2>&1 || { logrotate -d -s "$tmp.state" "$tmp" >&2 || true; log "ERROR: logrotate refuses the rendered configuration"; exit 1; }
    if ! cmp -s "$tmp" /etc/logrotate.d/pbx 2>/dev/null; then
      install -m 0644 "$tmp" /etc/logrotate.d/pbx
      log "installed /etc/logrotate.d/pbx"
    fi ;;
  *) echo "usage: $0 render|install" >&2; exit 2 ;;
esac
