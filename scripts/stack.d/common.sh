# shellcheck shell=bash
# scripts/stack.d/common.sh — helpers shared by the stack's parts: logging, waiting, processes, files, apt, the lock.
# Sourced by scripts/stack (which sets the variables it uses); not run on its own.

log() { printf '==> %s\n' "$*"; }
warn() { printf '==> WARNING: %s\n' "$*" >&2; }
die() {
  printf '==> ERROR: %s\n' "$*" >&2
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

# wait_until SECONDS DESCRIPTION COMMAND...: poll COMMAND every second; 1 on timeout.
wait_until() {
  local timeout=$1 what=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      warn "timed out after ${timeout}s waiting for $what"
      return 1
    fi
    sleep 1
  done
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# close every fd above 2 (the stack lock, pipes of whoever ran us) in a subshell about to exec a daemon,
# so that the daemon holds neither the lock nor a CI runner's output pipe open
close_fds() {
  local fd
  for fd in "/proc/$BASHPID/fd"/*; do
    fd=${fd##*/}
    if [[ $fd =~ ^[0-9]+$ ]] && ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
}
# spawn CMD...: run CMD (in the foreground) with only fds 0-2; redirect them at the call site. Not for `&`:
# the backgrounded function's shell would stay alive holding saved copies of the caller's fds.
spawn() { (close_fds && exec "$@"); }

pid_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

# pid from a pid file, if that process is alive and its command line contains PATTERN
pidfile_pid() {
  local file=$1 pattern=$2 pid
  [[ -f $file ]] || return 1
  pid=$(tr -dc '0-9' <"$file")
  pid_alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pattern" || return 1
  printf '%s\n' "$pid"
}

# stop_pid PID SECONDS: TERM, wait, KILL
stop_pid() {
  local pid=$1 grace=${2:-20} deadline
  pid_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + grace))
  while pid_alive "$pid" && ((SECONDS < deadline)); do sleep 0.5; done
  if pid_alive "$pid"; then
    warn "pid $pid did not stop within ${grace}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
}

require_root() {
  [[ $EUID -eq 0 ]] || die "the backing services need root (apt-get, the postgres user, $STACK_HOME): run it as root (sudo)"
}

# write_if_changed FILE MODE: content from stdin; atomic (new inode), so a running reader keeps the old one.
# Returns 0 if the file changed, 1 if it was already up to date.
write_if_changed() {
  local file=$1 mode=$2 tmp
  tmp=$(mktemp "$file.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  if [[ -f $file ]] && cmp -s "$tmp" "$file"; then
    rm -f "$tmp"
    return 1
  fi
  mv -f "$tmp" "$file"
}

as_postgres() {
  if [[ $(id -un) == postgres ]]; then
    (cd / && "$@")
  else
    (cd / && runuser -u postgres -- "$@")
  fi
}

APT_UPDATED=0
# apt_install PACKAGE...: apt-get update once per run, then install without recommends
apt_install() {
  have apt-get || die "missing: $* — install them (no apt-get on this machine)"
  if ((APT_UPDATED == 0)); then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  # slim Debian images leave out /usr/share/man, and openjdk's postinst fails without man1
  mkdir -p /usr/share/man/man1
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

python_has_venv() { "$1" -c 'import venv, ensurepip' >/dev/null 2>&1; }

# the python3 that creates the stack's venv: Debian's if usable, else whatever python3 is on PATH
system_python() {
  local py
  for py in /usr/bin/python3 "$(command -v python3 || true)"; do
    if [[ -n $py && -x $py ]] && python_has_venv "$py"; then
      printf '%s\n' "$py"
      return 0
    fi
  done
  return 1
}

pg_bindir() { find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1; }


# fd 9 holds the stack lock; daemons are started through spawn/close_fds so they do not inherit (and keep) it
take_lock() {
  mkdir -p "$STACK_HOME" "$STACK_LOGS"
  chmod 0755 "$STACK_HOME"
  exec 9>"$STACK_HOME/.lock"
  if ! flock -n 9; then
    log "waiting for another scripts/stack run (lock $STACK_HOME/.lock)"
    flock -w 1800 9 || die "timed out waiting for the lock $STACK_HOME/.lock"
  fi
}
release_lock() { exec 9>&-; }

# render TEMPLATE DEST MODE NAME=VALUE...: copy TEMPLATE to DEST with every @NAME@ replaced by VALUE
# (write_if_changed: returns 0 if DEST changed)
render() {
  local template=$1 dest=$2 mode=$3 pair text
  shift 3
  text=$(<"$template")
  for pair in "$@"; do
    text=${text//@${pair%%=*}@/${pair#*=}}
  done
  [[ $text != *@[A-Z_]*@* ]] || die "render $template: unreplaced placeholder in $(grep -o '@[A-Z_]*@' <<<"$text" | head -n 1)"
  printf '%s\n' "$text" | write_if_changed "$dest" "$mode"
}
