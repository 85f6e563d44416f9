#!/usr/bin/env bash
# deploy/asterisk-instance.sh — run one isolated Asterisk instance for pbx.
#
# Usage: deploy/asterisk-instance.sh start|stop|restart|status|path|rx "<cli command>"
#
# Each instance has its own config, run, log, spool and astdb dirs under
#   ${ASTERISK_ROOT}/var/lib/pbx-instances/${PBX_AST_INSTANCE}/{etc,run,log,spool,lib,cache}
# so a test run and a dev daemon never collide. Templates asterisk/*.conf are rendered into etc/
# with every ${PBX_...} placeholder replaced (Asterisk's own ${...} are left alone) and an
# asterisk.conf pointing at the instance dirs is written. Asterisk runs as the system user asterisk
# (made here when missing, and given the same ids inside a chroot root); the rendered config, which
# holds the secrets, is readable by that user only ("users and permissions" below).
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
#   PBX_TLS_CERT, PBX_TLS_KEY (the site certificate, PEM; both set: SIP over TLS too, transport-tls),
#   PBX_SIP_TLS_PORT (default 5061; 0: no SIP over TLS even with a certificate),
#   PBX_AST_TEMPLATES (default: the repo's asterisk/ dir), PBX_AST_BOOT_TIMEOUT (s, default 60)
#
# start and env must run as root.
# start:   no-op when the instance already runs with the same rendered config as user asterisk; when
#          the config changed (ports, passwords, templates...) or Asterisk runs as another user (an
#          instance started as root by an older version) it restarts the instance. Prints one line.
# stop:    `core stop now`, waits for the process to exit (kill -9 after ~10 s). No-op if stopped.
# status:  exit 0 if running and answering the CLI, 1 otherwise.
# path:    print the instance dir (host path).
# env:     print the daemon settings that depend on where this instance lives: the IVR prompts
#          folder as the host sees it (PBX_PROMPTS_DIR) and as Asterisk sees it (…_ASTERISK; they
#          differ when Asterisk runs chrooted), the same for call recordings
#          (PBX_RECORDINGS_DIR{,_ASTERISK}), and the dialplan fallback's spool file of calls
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
  export PBX_SIP_TLS_PORT="${PBX_SIP_TLS_PORT:-5061}"
  export PBX_AST_INSTANCE
  for v in PBX_SIP_PORT PBX_ARI_PORT PBX_AMI_PORT PBX_DB_PORT PBX_RTP_START PBX_RTP_END PBX_SIP_TLS_PORT; do
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
  sip_tls=""
  if [ -n "${PBX_TLS_CERT:-}" ] && [ -n "${PBX_TLS_KEY:-}" ] && [ "$PBX_SIP_TLS_PORT" != 0 ]; then
    [ -r "$PBX_TLS_CERT" ] && [ -r "$PBX_TLS_KEY" ] || die "PBX_TLS_CERT/PBX_TLS_KEY ($PBX_TLS_CERT, $PBX_TLS_KEY) must be readable files (SIP over TLS); set PBX_SIP_TLS_PORT=0 to run without it"
    [ "$PBX_SIP_TLS_PORT" != "$PBX_SIP_PORT" ] || die "PBX_SIP_TLS_PORT must differ from PBX_SIP_PORT (both are TCP ports)"
    sip_tls=yes
  fi
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
  # SIP over TLS: the site certificate and key, copied beside the config (root:asterisk 0640 like
  # it: secure_etc); Asterisk may run chrooted and cannot reach /etc/pbx/tls, and the key stays
  # unreadable to other local users. A renewed certificate changes the rendered config: restart.
  export PBX_SIP_TLS_CERT_FILE="$inst_in/etc/sip-tls.crt" PBX_SIP_TLS_KEY_FILE="$inst_in/etc/sip-tls.key"
  if [ -n "$sip_tls" ]; then
    cp "$PBX_TLS_CERT" "$dest/sip-tls.crt" && cp "$PBX_TLS_KEY" "$dest/sip-tls.key" || die "copying the TLS certificate or key failed"
  fi
  for f in "$templates"/*.conf; do
    [ "$(basename "$f")" = asterisk.conf ] && continue
    if [ "$(basename "$f")" = pjsip_tls.conf ] && [ -z "$sip_tls" ]; then
      echo "; no SIP over TLS: no site certificate (PBX_TLS_CERT/PBX_TLS_KEY) or PBX_SIP_TLS_PORT=0" >"$dest/pjsip_tls.conf"
      continue
    fi
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

# ------------------------------------------------------------------ users and permissions
# Asterisk runs as the system user asterisk, never root (deploy/README-site.md, "Users, permissions
# and secrets"). Its rendered config holds the AMI and ARI secrets and the database password, so it
# is root:asterisk 0640 in a 0750 folder: Asterisk reads it and cannot change it; no other local
# user reads it. The daemon's user pbx (deploy/install.sh) needs two things inside the instance:
# the IVR prompts folder, which it writes and Asterisk reads, and the unserved-calls spool file,
# which Asterisk writes and it reads. Both go through the group pbx, of which asterisk is a member:
#   <inst>/              root:pbx            0750  only root, asterisk and pbx get in
#   etc/ and its files   root:asterisk       0750 / 0640
#   lib/ spool/          asterisk:pbx        0710 / 2710 (pbx may pass, not list; files made in
#                                                  spool/ get group pbx)
#   lib/prompts/         pbx:pbx             0750
#   lib/recordings/      pbx:pbx             2770 call recordings (PBX_RECORDINGS_DIR): Asterisk
#                                                  writes them through the group, the daemon reads,
#                                                  compresses and deletes; it makes the day folders
#                                                  (2770 too) before a recording starts
#   spool/pbx-unserved.log asterisk:pbx      0640
#   run/ log/ cache/     asterisk:asterisk   0750
# Asterisk itself starts with umask 027. Without a user pbx (a machine deploy/install.sh has not set
# up) the shared group is asterisk's own and the daemon must run as root.
AST_USER=asterisk
DAEMON_USER=pbx
shared_group=""

need_root() { [ "$(id -u)" = 0 ] || die "'$cmd' must run as root (it manages users and Asterisk's files)"; }

# $1 = file, $2 = name: the entry's line ("" when absent)
entry_of() { grep -m1 "^$2:" "$1" 2>/dev/null || true; }

# $1 = file, $2 = name, $3 = line: put that line in place of the name's entry (appended when absent).
put_entry() {
  local f="$1" tmp="$1.pbx-new"
  { grep -v "^$2:" "$f" || true; printf '%s\n' "$3"; } >"$tmp"
  chmod --reference="$f" "$tmp" && chown --reference="$f" "$tmp" && mv -f "$tmp" "$f"
}

# $1 = id, $2 = name, $3 = file (passwd or group): fail when another entry of the root holds the id.
id_free_in_root() {
  local other
  other="$(awk -F: -v id="$1" -v n="$2" '$3 == id && $1 != n { print $1; exit }' "$ASTERISK_ROOT/etc/$3")"
  [ -z "$other" ] || die "id $1 of $2 is taken by '$other' in $ASTERISK_ROOT/etc/$3; give $2 another id on the host"
}

# The root's own passwd/group are what Asterisk's -U looks up (and initgroups reads): the user, its
# group and the shared group must be there with the host's ids, or files Asterisk writes would
# belong to whichever host user has the root's id (Debian's package picks its own).
sync_root_ids() {
  local uid gid sgid cur line old_uid old_gid members
  uid="$(id -u "$AST_USER")"; gid="$(id -g "$AST_USER")"
  cur="$(entry_of "$ASTERISK_ROOT/etc/group" "$AST_USER")"
  old_gid="$(printf '%s' "$cur" | cut -d: -f3)"
  if [ "$old_gid" != "$gid" ]; then
    id_free_in_root "$gid" "$AST_USER" group
    put_entry "$ASTERISK_ROOT/etc/group" "$AST_USER" "$AST_USER:x:$gid:$(printf '%s' "$cur" | cut -d: -f4)"
  fi
  cur="$(entry_of "$ASTERISK_ROOT/etc/passwd" "$AST_USER")"
  old_uid="$(printf '%s' "$cur" | cut -d: -f3)"
  if [ -z "$cur" ]; then line="$AST_USER:x:$uid:$gid:Asterisk PBX daemon:/var/lib/asterisk:/usr/sbin/nologin"
  else line="$(printf '%s' "$cur" | awk -F: -v OFS=: -v u="$uid" -v g="$gid" '{ $3 = u; $4 = g; print }')"; fi
  if [ "$line" != "$cur" ]; then
    id_free_in_root "$uid" "$AST_USER" passwd
    put_entry "$ASTERISK_ROOT/etc/passwd" "$AST_USER" "$line"
  fi
  # The package's own folders in the root (/etc/asterisk, /var/lib/asterisk...) follow the new ids.
  if [ -n "$old_uid" ] && [ "$old_uid" != "$uid" ]; then
    find "$ASTERISK_ROOT" -xdev -path "$ASTERISK_ROOT/var/lib/pbx-instances" -prune -o -uid "$old_uid" -exec chown -h "$uid" {} +
  fi
  if [ -n "$old_gid" ] && [ "$old_gid" != "$gid" ]; then
    find "$ASTERISK_ROOT" -xdev -path "$ASTERISK_ROOT/var/lib/pbx-instances" -prune -o -gid "$old_gid" -exec chgrp -h "$gid" {} +
  fi
  if [ "$shared_group" != "$AST_USER" ]; then
    sgid="$(getent group "$shared_group" | cut -d: -f3)"
    cur="$(entry_of "$ASTERISK_ROOT/etc/group" "$shared_group")"
    members="$(printf '%s' "$cur" | cut -d: -f4)"
    case ",$members," in *",$AST_USER,"*) ;; *) members="${members:+$members,}$AST_USER" ;; esac
    line="$shared_group:x:$sgid:$members"
    if [ "$line" != "$cur" ]; then
      id_free_in_root "$sgid" "$shared_group" group
      put_entry "$ASTERISK_ROOT/etc/group" "$shared_group" "$line"
    fi
  fi
}

ensure_users_locked() {
  local ids=() root_uid="" root_gid=""
  if ! id -u "$AST_USER" >/dev/null 2>&1; then
    # Prefer the ids the root's package gave the user, when the host has them free.
    if [ -n "$ASTERISK_ROOT" ]; then
      root_uid="$(entry_of "$ASTERISK_ROOT/etc/passwd" "$AST_USER" | cut -d: -f3)"
      root_gid="$(entry_of "$ASTERISK_ROOT/etc/passwd" "$AST_USER" | cut -d: -f4)"
    fi
    if getent group "$AST_USER" >/dev/null; then ids=(--gid "$AST_USER")
    elif [ -n "$root_gid" ] && ! getent group "$root_gid" >/dev/null; then groupadd --system --gid "$root_gid" "$AST_USER"; ids=(--gid "$AST_USER")
    else ids=(--user-group); fi
    if [ -n "$root_uid" ] && ! getent passwd "$root_uid" >/dev/null; then ids+=(--uid "$root_uid"); fi
    useradd --system "${ids[@]}" --home-dir /var/lib/asterisk --no-create-home --shell /usr/sbin/nologin \
      --comment "Asterisk PBX daemon" "$AST_USER"
    say "system user $AST_USER created (uid $(id -u "$AST_USER"))" >&2 # stdout of `env` is the env file's
  fi
  [ "$(id -u "$AST_USER")" != 0 ] || die "user $AST_USER must not be root"
  shared_group="$AST_USER"
  if getent group "$DAEMON_USER" >/dev/null; then shared_group="$DAEMON_USER"; fi
  if [ "$shared_group" != "$AST_USER" ] && ! id -nG "$AST_USER" | tr ' ' '\n' | grep -qx "$shared_group"; then
    usermod -aG "$shared_group" "$AST_USER"
  fi
  if [ -n "$ASTERISK_ROOT" ]; then sync_root_ids; fi
}

# One at a time across instances: they share the host's and the root's user files.
ensure_users() {
  local lockdir="$ASTERISK_ROOT/var/lib/pbx-instances"
  mkdir -p "$lockdir"
  exec 8>"$lockdir/.users.lock"
  flock -w 60 8 || die "another instance is still setting up the users (lock $lockdir/.users.lock)"
  ensure_users_locked
  exec 8>&-
}

# $1 = a rendered config folder: root:asterisk, 0750 and files 0640.
secure_etc() {
  chown -R "root:$AST_USER" "$1"
  chmod 0750 "$1"
  find "$1" -type f -exec chmod 0640 {} +
}

# The instance's folders, as in the table above. Also turns an instance made while Asterisk ran as
# root into this layout (everything Asterisk writes becomes its own).
prepare_dirs() {
  local prompts="$inst/lib/prompts" recordings="$inst/lib/recordings" unserved="$inst/spool/pbx-unserved.log"
  mkdir -p "$inst"/{run,log,lib,cache} "$inst"/spool/{recording,monitor,tmp} "$prompts" "$recordings"
  find "$inst"/run "$inst"/log "$inst"/cache "$inst"/lib "$inst"/spool -path "$prompts" -prune \
    -o -path "$recordings" -prune -o ! -user "$AST_USER" -exec chown -h "$AST_USER:$AST_USER" {} +
  chown "root:$shared_group" "$inst" && chmod 0750 "$inst"
  chown "$AST_USER:$AST_USER" "$inst"/run "$inst"/log "$inst"/cache && chmod 0750 "$inst"/run "$inst"/log "$inst"/cache
  chown "$AST_USER:$shared_group" "$inst/lib" && chmod 0710 "$inst/lib"
  chown "$AST_USER:$shared_group" "$inst/spool" && chmod 2710 "$inst/spool"
  # The dialplan fallback appends calls Postgres refused here; made now, readable by the daemon,
  # as Asterisk keeps the owner and mode of a file that exists.
  touch "$unserved" && chown "$AST_USER:$shared_group" "$unserved" && chmod 0640 "$unserved"
  # The IVR prompts folder the daemon writes (PBX_PROMPTS_DIR): the daemon's user owns it when that
  # user exists, as pbx.service runs the daemon as pbx.
  if id -u "$DAEMON_USER" >/dev/null 2>&1; then chown "$DAEMON_USER:$shared_group" "$prompts"
  else chown "root:$shared_group" "$prompts"; fi
  chmod 0750 "$prompts"
  # Call recordings (PBX_RECORDINGS_DIR): the folder only; what is in it is the daemon's and Asterisk's.
  if id -u "$DAEMON_USER" >/dev/null 2>&1; then chown "$DAEMON_USER:$shared_group" "$recordings"
  else chown "root:$shared_group" "$recordings"; fi
  chmod 2770 "$recordings"
  if [ -d "$inst/etc" ]; then secure_etc "$inst/etc"; fi
}

# $1 = pid: the process's real uid
uid_of() { awk '/^Uid:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

port_busy() { # $1 = proto (t|u), $2 = port
  command -v ss >/dev/null 2>&1 || return 1
  ss -Hln"$1" "sport = :$2" 2>/dev/null | grep -q .
}

do_start() {
  local force="${1:-}" pid new i t0 ver
  check_env
  need_root
  ensure_users
  prepare_dirs
  new="$inst/.etc.new"
  rm -rf "$new"
  (umask 077 && render "$new")
  secure_etc "$new"
  if pid="$(pid_of_instance)"; then
    if [ -z "$force" ] && [ -d "$inst/etc" ] && diff -rq "$inst/etc" "$new" >/dev/null 2>&1 && cli_ok \
      && [ "$(uid_of "$pid")" = "$(id -u "$AST_USER")" ]; then
      rm -rf "$new"
      say "instance $PBX_AST_INSTANCE already running (pid $pid), config unchanged"
      return 0
    fi
    say "instance $PBX_AST_INSTANCE: config or user changed, or restart requested; restarting"
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
  tls_ports=""
  [ -n "$sip_tls" ] && tls_ports="$PBX_SIP_TLS_PORT:PBX_SIP_TLS_PORT"
  for p in "$PBX_SIP_PORT:PBX_SIP_PORT" "$PBX_ARI_PORT:PBX_ARI_PORT" "$PBX_AMI_PORT:PBX_AMI_PORT" $tls_ports; do
    if port_busy t "${p%%:*}"; then die "TCP port ${p%%:*} (${p#*:}) is already in use"; fi
  done

  t0=$(date +%s)
  # Asterisk daemonizes itself; detach it from our session and stdio so callers never hang on it.
  # fd 9 is our lock: the daemon must not inherit it, or it would hold the lock for its lifetime.
  # -U without -G: Asterisk takes the user's group and its other groups (initgroups: the shared one).
  (umask 027 && setsid "${ast_cmd[@]}" -U "$AST_USER" </dev/null >/dev/null 2>&1 9>&-) || true
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
  say "instance $PBX_AST_INSTANCE up in $(( $(date +%s) - t0 ))s: pid $pid, Asterisk $ver, SIP $PBX_SIP_BIND:$PBX_SIP_PORT udp+tcp${sip_tls:+, SIP over TLS $PBX_SIP_BIND:$PBX_SIP_TLS_PORT}, ARI http://127.0.0.1:$PBX_ARI_PORT/ari app '$PBX_ARI_APP', AMI 127.0.0.1:$PBX_AMI_PORT, log $inst/log/messages.log"
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
    need_root
    ensure_users
    prepare_dirs
    echo "PBX_PROMPTS_DIR=$inst/lib/prompts"
    echo "PBX_PROMPTS_DIR_ASTERISK=$inst_in/lib/prompts"
    echo "PBX_RECORDINGS_DIR=$inst/lib/recordings"
    echo "PBX_RECORDINGS_DIR_ASTERISK=$inst_in/lib/recordings"
    # The dialplan fallback's spool file (${ASTSPOOLDIR}/pbx-unserved.log): calls Postgres refused.
    echo "PBX_UNSERVED_FILE=$inst/spool/pbx-unserved.log" ;;
  rx)
    [ -n "${2:-}" ] || die "usage: $0 rx \"<cli command>\""
    pid_of_instance >/dev/null || die "instance $PBX_AST_INSTANCE is not running"
    ast -rx "$2" ;;
esac
