# shellcheck shell=bash
# scripts/stack.d/supervisor.sh — supervisord (PyPI `supervisor`, in the stack's venv) keeps the Kafka
# broker running: it restarts the broker when it exits and rotates its log. Its configuration is
# deploy/local/supervisord.conf, rendered into the stack home.
# Sourced by scripts/stack (which sets the variables it uses); not run on its own.

SUPERVISOR_VERSION=4.3.0
SUPERVISOR_CONF=$STACK_HOME/etc/supervisord.conf

venv_ok() {
  "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('supervisor') != '$SUPERVISOR_VERSION')" >/dev/null 2>&1
}

ensure_venv() {
  if venv_ok; then
    log "python venv: supervisor $SUPERVISOR_VERSION already installed ($VENV)"
    return 0
  fi
  local py
  py=$(system_python) || die "no python3 with venv support"
  if [[ ! -x $VENV/bin/pip ]]; then
    log "python venv: creating $VENV"
    "$py" -m venv --clear "$VENV"
  fi
  log "python venv: pip install supervisor==$SUPERVISOR_VERSION"
  "$VENV/bin/pip" install -q --disable-pip-version-check "supervisor==$SUPERVISOR_VERSION" >"$STACK_LOGS/pip.log" 2>&1 ||
    die "pip install failed; see $STACK_LOGS/pip.log"
  venv_ok || die "supervisor does not import from $VENV"
}

supervisorctl() { "$VENV/bin/supervisorctl" -c "$SUPERVISOR_CONF" "$@"; }
supervisord_pid() { pidfile_pid "$STACK_HOME/run/supervisord.pid" supervisord; }

# supervisor_up NAME=VALUE...: render the configuration and make supervisord run it: start it, or
# have a running one reload a changed configuration (which restarts only the programs that changed)
supervisor_up() {
  ensure_venv
  mkdir -p "$STACK_HOME/etc" "$STACK_HOME/run"
  local changed=no
  render "$REPO_ROOT/deploy/local/supervisord.conf" "$SUPERVISOR_CONF" 0644 \
    "STACK_HOME=$STACK_HOME" "STACK_LOGS=$STACK_LOGS" "$@" && changed=yes
  if supervisord_pid >/dev/null; then
    if [[ $changed == yes ]]; then
      log "supervisord: configuration changed; reloading it (programs whose lines changed restart)"
      supervisorctl reread >/dev/null
      supervisorctl update >/dev/null
    else
      log "supervisord: already running (pid $(supervisord_pid))"
    fi
    return 0
  fi
  log "supervisord: starting ($SUPERVISOR_CONF, log $STACK_LOGS/supervisord.log)"
  (cd / && spawn "$VENV/bin/supervisord" -c "$SUPERVISOR_CONF") </dev/null >>"$STACK_LOGS/supervisord.log" 2>&1 ||
    die "supervisord did not start; see $STACK_LOGS/supervisord.log"
  wait_until 20 "supervisord" supervisord_pid || die "supervisord did not start; see $STACK_LOGS/supervisord.log"
}

# stops every program (each within its stopwaitsecs), then supervisord itself
supervisor_down() {
  local pid
  pid=$(supervisord_pid) || return 0
  log "supervisord: stopping its programs, then itself (pid $pid)"
  supervisorctl stop all >/dev/null 2>&1 || true
  supervisorctl shutdown >/dev/null 2>&1 || true
  stop_pid "$pid" 90
}

# program_state NAME: RUNNING, STARTING, BACKOFF, FATAL, STOPPED... (empty without supervisord)
program_state() {
  supervisord_pid >/dev/null || return 0
  supervisorctl status "$1" 2>/dev/null | awk '{ print $2 }'
}
