#!/usr/bin/env bash
# deploy/asterisk-instance.sh — run one isolated Asterisk instance for pbx.
#
# Usage: deploy/asterisk-instance.sh start|stop|restart|status|path|rx "<cli command>"
#
# Each instance has its own config, run, log, spool and astdb dirs under
#   ${ASTERISK_ROOT}/var/lib/pbx-instances/${PBX_AST_INSTANCE}/{etc,run,log,spool,lib,cache}
# so a test run and a dev daemon never collide. Templates asterisk/*.conf are rendered into etc/
# with every ${PBX_...} placeholder replaced (Asterisk's own ${...} are left alone) and an
# asterisk.conf pointing at the instance dirs is written.
#
# Environment (all commands):
#   PBX_AST_INSTANCE   instance name ([A-Za-z0-9_.-]+), e.g. dev or test-abc123
#   ASTERISK_ROOT      optional. Default: "" (host Asterisk) when /usr/sbin/asterisk on the host is
#                      version >= 20, else /var/cache/pbx/asterisk-root (made by deploy/install.sh)
# Required for start/restart:
#   PBX_SIP_PORT PBX_ARI_PORT PBX_AMI_PORT PBX_ARI_USER PBX_ARI_PASSWORD PBX_AMI_USER
#   PBX_AMI_PASSWORD PBX_ARI_APP PBX_DB_HOST PBX_DB_PORT PBX_DB_NAME PBX_DB_USER
# Optional for start/restart:
#   PBX_DB_PASSWORD (default empty), PBX_SIP_BIND (default 0.0.0.0),
#   PBX_RTP_START (default 10000), PBX_RTP_END (default 20000),
#   PBX_AST_TEMPLATES (default: the repo's asterisk/ dir), PBX_AST_BOOT_TIMEOUT (s, default 60)
#
# start:   no-op when the instance already runs with the same rendered config; when the config
#          changed (ports, passwords, templates...) it restarts the instance. Prints one line.
# stop:    `core stop now`, waits for the process to exit (kill -9 after ~10 s). No-op if stopped.
# status:  exit 0 if running and answering the CLI, 1 otherwise.
# path:    print the instance dir (host path).
# env:     print the daemon settings that depend on where this instance lives: the IVR prompts
#          folder as the host sees it (PBX_PROMPTS_DIR) and as Asterisk sees it (…_ASTERISK; they
#          differ when Asterisk runs chrooted), and the dialplan fallback's spool file of calls
#          Postgres refused (PBX_UNSERVED_FILE). `make setup` adds them to the env file.
# rx:      run one CLI command, print its output.
set -euo pipefail

me="asterisk-instance"
die() { printf '[%s] ERROR: %s\n' "$me" "$*" >&2; exit 1; }
say() { printf '[%s] %s\n' "$me" "$*"; }

cmd="${1:-}"
case "$cmd" in
  start|stop|restart|status|path|rx|env) ;;
  *) die "usage: $0 start|stop|restart|status|path|env|rx \"<cli command>\"" ;;
esac

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
templates="${PBX_AST_TEMPLATES:-$script_dir/../asterisk}"

# ------------------------------------------------------------------ locate Asterisk
host_ast_major() {
  local v
  [ -x /usr/sbin/asterisk ] || { echo 0; return; }
  v="$(/usr/sbin/asterisk -V 2>/dev/null || true)"; v="${v#Asterisk }"; v="${v%%.*}"
  case "$v" in ''|*[!0-9]*) echo 0 ;; *) echo "$v" ;; esac
}
if [ -z "${ASTERISK_ROOT+set}" ]; then
  if [ "$(host_ast_major)" -ge 20 ]; then ASTERISK_ROOT=""; else ASTERISK_ROOT="/var/cache/pbx/asterisk-root"; fi
fi
ASTERISK_ROOT="${ASTERISK_ROOT%/}"
[ -x "$ASTERISK_ROOT/usr/sbin/asterisk" ] || die "no Asterisk at ${ASTERISK_ROOT:-/}usr/sbin/asterisk (ASTERISK_ROOT='$ASTERISK_ROOT'); run deploy/install.sh as root"

[ -n "${PBX_AST_INSTANCE:-}" ] || die "missing environment variable: PBX_AST_INSTANCE"
case "$PBX_AST_INSTANCE" in *[!A-Za-z0-9_.-]*|.*) die "PBX_AST_INSTANCE must match [A-Za-z0-9_.-]+ and not start with '.'" ;; esac

inst_in="/var/lib/pbx-instances/$PBX_AST_INSTANCE"   # path as Asterisk sees it
inst="$ASTERISK_ROOT$inst_in"                          # path on the host
conf_in="$inst_in/etc/asterisk.conf"

if [ -n "$ASTERISK_ROOT" ]; then ast_cmd=(chroot "$ASTERISK_ROOT" /usr/sbin/asterisk -C "$conf_in")
else ast_cmd=(/usr/sbin/asterisk -C "$conf_in"); fi
ast() { "${ast_cmd[@]}" "$@"; }
# Bounded CLI call. The remote console ignores SIGTERM: -k sends SIGKILL after the grace time.
ast_t() { timeout -k 2 10 "${ast_cmd[@]}" "$@" 9>&-; }

pid_of_instance() { # prints pid if this instance's asterisk process is alive
  local pid
  [ -f "$inst/run/asterisk.pid" ] || return 1
  pid="$(tr -dc '0-9' <"$inst/run/asterisk.pid")"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$conf_in" || return 1
  echo "$pid"
}

cli_ok() { ast_t -rx 'core show version' >/dev/null 2>&1; }

# ------------------------------------------------------------------ rendering
required=(PBX_SIP_PORT PBX_ARI_PORT PBX_AMI_PORT PBX_ARI_USER PBX_ARI_PASSWORD PBX_AMI_USER
          PBX_AMI_PASSWORD PBX_ARI_APP PBX_DB_HOST PBX_DB_PORT PBX_DB_NAME PBX_DB_USER)

check_env() {
  local missing=() v
  for v in "${required[@]}"; do [ -n "${!v:-}" ] || missing+=("$v"); done
  [ "${#missing[@]}" = 0 ] || die "missing environment variable(s): ${missing[*]}"
  export PBX_DB_PASSWORD="${PBX_DB_PASSWORD:-}"
  export PBX_SIP_BIND="${PBX_SIP_BIND:-0.0.0.0}"
  export PBX_RTP_START="${PBX_RTP_START:-10000}"
  export PBX_RTP_END="${PBX_RTP_END:-20000}"
  export PBX_AST_INSTANCE
  for v in PBX_SIP_PORT PBX_ARI_PORT PBX_AMI_PORT PBX_DB_PORT PBX_RTP_START PBX_RTP_END; do
    case "${!v}" in ''|*[!0-9]*) die "$v must be a number (got '${!v}')" ;; esac
  done
  for v in "${required[@]}" PBX_DB_PASSWORD PBX_SIP_BIND; do
    # a newline or ';' would inject config lines or comments
    case "${!v}" in *$'\n'*|*$'\r'*|*';'*) die "$v must not contain a newline, CR or ';'" ;; esac
    export "${v?}"
  done
  case "$PBX_ARI_APP" in *[!A-Za-z0-9_.-]*) die "PBX_ARI_APP must match [A-Za-z0-9_.-]+" ;; esac
  case "$PBX_ARI_USER$PBX_AMI_USER" in *[!A-Za-z0-9_.-]*) die "PBX_ARI_USER/PBX_AMI_USER must match [A-Za-z0-9_.-]+" ;; esac
  case "$PBX_DB_PASSWORD$PBX_DB_USER$PBX_DB_NAME$PBX_DB_HOST" in *' '*) die "PBX_DB_* values must not contain spaces (libpq conninfo)" ;; esac
}

pkg_dir() { # $1 = key in the package's asterisk.conf, $2 = fallback
  local f="$ASTERISK_ROOT/etc/asterisk/asterisk.conf" v=""
  [ -f "$f" ] && v="$(sed -n "s/^[[:space:]]*$1[[:space:]]*=>[[:space:]]*\\([^[:space:];]*\\).*/\\1/p" "$f" | head -n1)"
  if [ -z "$v" ] || [ ! -d "$ASTERISK_ROOT$v" ]; then v="$2"; fi
  echo "$v"
}

render() { # $1 = destination dir (host path)
  local dest="$1" f moddir datadir
  ls "$templates"/*.conf >/dev/null 2>&1 || die "no templates in $templates"
  mkdir -p "$dest"
  for f in "$templates"/*.conf; do
    [ "$(basename "$f")" = asterisk.conf ] && continue
    perl -pe 's/\$\{(PBX_[A-Z0-9_]+)\}/exists $ENV{$1} ? $ENV{$1} : die "unset variable $1 in $ARGV\n"/ge' \
      "$f" >"$dest/$(basename "$f")" || die "rendering $f failed"
  done
  local guess d
  guess=/usr/lib/asterisk/modules
  for d in "$ASTERISK_ROOT"/usr/lib/*/asterisk/modules; do [ -d "$d" ] && guess="${d#"$ASTERISK_ROOT"}" && break; done
  moddir="$(pkg_dir astmoddir "$guess")"
  datadir="$(pkg_dir astdatadir /usr/share/asterisk)"
  cat >"$dest/asterisk.conf" <<CONF
; generated by deploy/asterisk-instance.sh for instance $PBX_AST_INSTANCE — do not edit
[directories]
astetcdir => $inst_in/etc
astmoddir => $moddir
astvarlibdir => $inst_in/lib
astdbdir => $inst_in/lib
astkeydir => $inst_in/lib
astcachedir => $inst_in/cache
astdatadir => $datadir
astagidir => $datadir/agi-bin
astspooldir => $inst_in/spool
astrundir => $inst_in/run
astlogdir => $inst_in/log
astsbindir => /usr/sbin

[options]
verbose = 0
debug = 0
defaultlanguage = en
documentation_language = en_US
cache_media_frames = yes
hideconnect = yes
CONF
}

# ------------------------------------------------------------------ commands
do_stop() {
  local pid i
  if ! pid="$(pid_of_instance)"; then
    rm -f "$inst/run/asterisk.pid" "$inst/run/asterisk.ctl"
    say "instance $PBX_AST_INSTANCE not running"
    return 0
  fi
  (timeout -k 1 5 "${ast_cmd[@]}" -rx 'core stop now' >/dev/null 2>&1 9>&-) 2>/dev/null || true
  for i in $(seq 1 100); do
    [ -d "/proc/$pid" ] || break
    sleep 0.1
  done
  if [ -d "/proc/$pid" ]; then
    say "instance $PBX_AST_INSTANCE (pid $pid) did not stop in 10 s; killing"
    kill -9 "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
  fi
  rm -f "$inst/run/asterisk.pid" "$inst/run/asterisk.ctl"
  say "instance $PBX_AST_INSTANCE stopped"
}

# The IVR prompts folder the daemon writes (PBX_PROMPTS_DIR): the daemon's user (deploy/install.sh)
# owns it when that user exists, as pbx.service runs the daemon as pbx.
prompts_dir() {
  mkdir -p "$inst/lib/prompts" && chmod 755 "$inst/lib/prompts"
  if id -u pbx >/dev/null 2>&1; then chown pbx:pbx "$inst/lib/prompts"; fi
}

port_busy() { # $1 = proto (t|u), $2 = port
  command -v ss >/dev/null 2>&1 || return 1
  ss -Hln"$1" "sport = :$2" 2>/dev/null | grep -q .
}

do_start() {
  local force="${1:-}" pid new i t0 ver
  check_env
  mkdir -p "$inst"/{run,log,lib,cache} "$inst"/spool/{recording,monitor,tmp}
  # The dialplan fallback appends calls Postgres refused here; made now, readable by the daemon
  # (which may run as another user), as Asterisk keeps the mode of a file that exists.
  touch "$inst/spool/pbx-unserved.log" && chmod 644 "$inst/spool/pbx-unserved.log"
  prompts_dir
  new="$inst/.etc.new"
  rm -rf "$new"
  render "$new"
  if pid="$(pid_of_instance)"; then
    if [ -z "$force" ] && [ -d "$inst/etc" ] && diff -rq "$inst/etc" "$new" >/dev/null 2>&1 && cli_ok; then
      rm -rf "$new"
      say "instance $PBX_AST_INSTANCE already running (pid $pid), config unchanged"
      return 0
    fi
    say "instance $PBX_AST_INSTANCE: config changed or restart requested; restarting"
    do_stop >/dev/null
  fi
  rm -rf "$inst/.etc.old"
  [ -d "$inst/etc" ] && mv "$inst/etc" "$inst/.etc.old"
  mv "$new" "$inst/etc"
  rm -rf "$inst/.etc.old"
  rm -f "$inst/run/asterisk.pid" "$inst/run/asterisk.ctl"

  if [ -n "$ASTERISK_ROOT" ]; then
    # The root has no hosts/resolver files of its own: without them every first call logs
    # getaddrinfo errors (Asterisk looks up this host's name) and SIP hostnames do not resolve.
    for f in /etc/hosts /etc/resolv.conf; do
      if [ -f "$f" ] && ! cmp -s "$f" "$ASTERISK_ROOT$f"; then cp -f "$f" "$ASTERISK_ROOT$f" 2>/dev/null || true; fi
    done
  fi

  if port_busy u "$PBX_SIP_PORT"; then die "UDP port $PBX_SIP_PORT (PBX_SIP_PORT) is already in use"; fi
  for p in "$PBX_SIP_PORT:PBX_SIP_PORT" "$PBX_ARI_PORT:PBX_ARI_PORT" "$PBX_AMI_PORT:PBX_AMI_PORT"; do
    if port_busy t "${p%%:*}"; then die "TCP port ${p%%:*} (${p#*:}) is already in use"; fi
  done

  t0=$(date +%s)
  # Asterisk daemonizes itself; detach it from our session and stdio so callers never hang on it.
  # fd 9 is our lock: the daemon must not inherit it, or it would hold the lock for its lifetime.
  setsid "${ast_cmd[@]}" -U root </dev/null >/dev/null 2>&1 9>&- || true
  for i in $(seq 1 $(( ${PBX_AST_BOOT_TIMEOUT:-60} * 2 ))); do
    if ast_t -rx 'core waitfullybooted' >/dev/null 2>&1; then break; fi
    if [ "$i" -gt 6 ] && ! pid_of_instance >/dev/null; then
      tail -n 20 "$inst/log/messages.log" >&2 2>/dev/null || true
      die "Asterisk instance $PBX_AST_INSTANCE exited during boot (log: $inst/log/messages.log)"
    fi
    sleep 0.5
  done
  pid="$(pid_of_instance)" || die "Asterisk instance $PBX_AST_INSTANCE did not come up (log: $inst/log/messages.log)"
  ast_t -rx 'core waitfullybooted' >/dev/null 2>&1 || die "Asterisk instance $PBX_AST_INSTANCE did not finish booting in ${PBX_AST_BOOT_TIMEOUT:-60} s"
  ver="$(ast -V 2>/dev/null | sed 's/^Asterisk //')"
  say "instance $PBX_AST_INSTANCE up in $(( $(date +%s) - t0 ))s: pid $pid, Asterisk $ver, SIP $PBX_SIP_BIND:$PBX_SIP_PORT udp+tcp, ARI http://127.0.0.1:$PBX_ARI_PORT/ari app '$PBX_ARI_APP', AMI 127.0.0.1:$PBX_AMI_PORT, log $inst/log/messages.log"
}

# One start/stop/restart at a time per instance. stop waits less and then goes ahead anyway.
lock() { # $1 = seconds to wait, $2 = "soft" to continue without the lock
  mkdir -p "$inst"
  exec 9>"$inst/.lock"
  if ! flock -w "$1" 9; then
    [ "${2:-}" = soft ] || die "another start/stop of instance $PBX_AST_INSTANCE is still running"
    say "lock busy for instance $PBX_AST_INSTANCE; stopping anyway"
  fi
}

case "$cmd" in
  start) lock 90; do_start ;;
  restart) lock 90; do_start force ;;
  stop) if [ -d "$inst" ]; then lock 15 soft; fi; do_stop ;;
  status)
    if pid="$(pid_of_instance)" && cli_ok; then say "instance $PBX_AST_INSTANCE running (pid $pid)"; exit 0; fi
    say "instance $PBX_AST_INSTANCE not running"; exit 1 ;;
  path) echo "$inst" ;;
  env)
    prompts_dir
    echo "PBX_PROMPTS_DIR=$inst/lib/prompts"
    echo "PBX_PROMPTS_DIR_ASTERISK=$inst_in/lib/prompts"
    # The dialplan fallback's spool file (${ASTSPOOLDIR}/pbx-unserved.log): calls Postgres refused.
    echo "PBX_UNSERVED_FILE=$inst/spool/pbx-unserved.log" ;;
  rx)
    [ -n "${2:-}" ] || die "usage: $0 rx \"<cli command>\""
    pid_of_instance >/dev/null || die "instance $PBX_AST_INSTANCE is not running"
    ast -rx "$2" ;;
esac
