# shellcheck shell=bash
# scripts/stack.d/services.sh — the three services of this checkout (release builds, started in the background).
# Sourced by scripts/stack (which sets the variables it uses); not run on its own.

svc_pid() { pidfile_pid "$LOCAL_DIR/pids/$1.pid" "$1"; }
svc_ready() { curl -fsS -m 2 "http://127.0.0.1:$1/readyz" >/dev/null 2>&1; }

svc_stop() {
  local name=$1 pid
  if pid=$(svc_pid "$name"); then
    log "$name: stopping (pid $pid)"
    stop_pid "$pid" 30
  fi
  rm -f "$LOCAL_DIR/pids/$name.pid" "$LOCAL_DIR/pids/$name.sha256"
}

svc_start() {
  local name=$1 port=$2 bin=$TARGET_DIR/$(profile_dir)/$1 sum pid
  [[ -x $bin ]] || die "$bin is missing (cargo build failed?)"
  sum=$(sha256sum "$bin" | cut -d' ' -f1)
  if pid=$(svc_pid "$name"); then
    if [[ $(cat "$LOCAL_DIR/pids/$name.sha256" 2>/dev/null) == "$sum" ]]; then
      log "$name: already running (pid $pid, binary unchanged)"
      return 0
    fi
    log "$name: binary changed; restarting"
    svc_stop "$name"
  fi
  port_open "$port" && die "port $port is taken (by another checkout's $name?); stop it first"
  (cd "$REPO_ROOT" && close_fds && exec setsid nohup "$bin") >>"$LOCAL_DIR/logs/$name.log" 2>&1 </dev/null &
  echo "$!" >"$LOCAL_DIR/pids/$name.pid"
  echo "$sum" >"$LOCAL_DIR/pids/$name.sha256"
  log "$name: started (pid $!, log .stack/logs/$name.log)"
}

services_up() {
  ensure_build_tools
  mkdir -p "$LOCAL_DIR/logs" "$LOCAL_DIR/pids"
  cargo_build suite-admin lead-triage engagement campaign-optimization
  log "migrations: suite-admin migrate"
  suite_admin migrate
  log "demo workspace: suite-admin bootstrap-demo"
  suite_admin bootstrap-demo --out "$LOCAL_DIR/demo.env"

  local entry name port
  for entry in "${SERVICES[@]}"; do svc_start "${entry%%:*}" "${entry##*:}"; done
  for entry in "${SERVICES[@]}"; do
    name=${entry%%:*} port=${entry##*:}
    if ! wait_until 120 "$name /readyz on 127.0.0.1:$port" svc_ready "$port"; then
      tail -n 30 "$LOCAL_DIR/logs/$name.log" >&2 || true
      die "$name is not ready; see .stack/logs/$name.log"
    fi
    log "$name: ready on http://127.0.0.1:$port"
  done

  # demo.env: what bootstrap-demo wrote, then the URLs (always the same lines, in the same order)
  local env=$LOCAL_DIR/demo.env
  [[ -f $env ]] || die "suite-admin bootstrap-demo did not write $env"
  grep -vE '^(TRIAGE|ENGAGEMENT|OPTIMIZATION)_URL=' "$env" >"$env.tmp" || true
  cat >>"$env.tmp" <<'EOF'
TRIAGE_URL=http://127.0.0.1:8081
ENGAGEMENT_URL=http://127.0.0.1:8082
OPTIMIZATION_URL=http://127.0.0.1:8083
EOF
  mv -f "$env.tmp" "$env"

  cat <<EOF

The suite is up.
  lead-triage            http://127.0.0.1:8081
  engagement             http://127.0.0.1:8082
  campaign-optimization  http://127.0.0.1:8083
  demo API key           DEMO_API_KEY in $env  (source it: set -a; . .stack/demo.env; set +a)
  logs                   scripts/stack logs NAME   (status: scripts/stack status, stop: scripts/stack down)
EOF
}

services_down() {
  local entry
  for entry in "${SERVICES[@]}"; do svc_stop "${entry%%:*}"; done
}

