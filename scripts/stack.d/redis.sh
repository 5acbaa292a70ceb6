# shellcheck shell=bash
# scripts/stack.d/redis.sh — a Redis cluster on 127.0.0.1:7000-7005 (3 masters + 3 replicas).
# Sourced by scripts/stack (which sets the variables it uses); not run on its own.

rcli() {
  local port=$1
  shift
  timeout 10 redis-cli -h 127.0.0.1 -p "$port" "$@"
}
redis_ping() { [[ $(rcli "$1" ping 2>/dev/null) == PONG ]]; }
redis_info_field() { rcli "$1" cluster info 2>/dev/null | tr -d '\r' | awk -F: -v k="$2" '$1 == k { print $2 }'; }
redis_node_ok() { [[ $(redis_info_field "$1" cluster_state) == ok ]]; }
redis_cluster_ok() {
  local p
  for p in "${REDIS_PORTS[@]}"; do
    redis_node_ok "$p" || return 1
    [[ $(redis_info_field "$p" cluster_known_nodes) == "${#REDIS_PORTS[@]}" ]] || return 1
  done
}
redis_all_ping() {
  local p
  for p in "${REDIS_PORTS[@]}"; do redis_ping "$p" || return 1; done
}

redis_node_start() {
  local port=$1 dir=$STACK_HOME/redis/$1
  if redis_ping "$port"; then
    rcli "$port" cluster info 2>/dev/null | grep -q '^cluster_state:' ||
      die "127.0.0.1:$port answers but is not a cluster-enabled redis (something else owns the port)"
    return 0
  fi
  port_open "$port" && die "port $port is taken by something that is not redis"
  mkdir -p "$dir"
  spawn redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes \
    --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
    --dir "$dir" --save "" --appendonly no --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$STACK_LOGS/redis-$port.log" >/dev/null 2>&1 </dev/null
  log "redis cluster: started node 127.0.0.1:$port"
}

redis_cluster() {
  local p
  for p in "${REDIS_PORTS[@]}"; do redis_node_start "$p"; done
  wait_until 20 "redis nodes to answer" redis_all_ping || die "redis nodes did not start; see $STACK_LOGS/redis-*.log"

  if redis_cluster_ok; then
    log "redis cluster: already ok (127.0.0.1:${REDIS_PORTS[0]}-${REDIS_PORTS[-1]})"
    return 0
  fi
  # after a restart the nodes reload nodes.conf and need a moment to agree again
  if [[ $(redis_info_field "${REDIS_PORTS[0]}" cluster_known_nodes) == "${#REDIS_PORTS[@]}" ]] &&
    wait_until 30 "the redis cluster to converge" redis_cluster_ok; then
    log "redis cluster: ok again after restart"
    return 0
  fi
  local formed=no
  for p in "${REDIS_PORTS[@]}"; do
    if [[ $(redis_info_field "$p" cluster_known_nodes) != 1 || $(redis_info_field "$p" cluster_slots_assigned) != 0 ]]; then
      formed=yes
    fi
  done
  if [[ $formed == yes ]]; then
    log "redis cluster: nodes hold a broken or partial cluster; resetting all six"
    for p in "${REDIS_PORTS[@]}"; do
      rcli "$p" flushall >/dev/null 2>&1 || true
      rcli "$p" cluster reset hard >/dev/null
    done
  fi
  local addrs=()
  for p in "${REDIS_PORTS[@]}"; do addrs+=("127.0.0.1:$p"); done
  log "redis cluster: creating (3 masters + 3 replicas)"
  timeout 120 redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$STACK_LOGS/redis-cluster-create.log" 2>&1 ||
    die "redis cluster create failed; see $STACK_LOGS/redis-cluster-create.log"
  wait_until 60 "cluster_state:ok on all nodes" redis_cluster_ok || die "redis cluster did not reach cluster_state:ok"
  log "redis cluster: ok (127.0.0.1:${REDIS_PORTS[0]}-${REDIS_PORTS[-1]})"
}

redis_down() {
  local p pid
  for p in "${REDIS_PORTS[@]}"; do
    if pid=$(pidfile_pid "$STACK_HOME/redis/$p/redis.pid" redis-server); then
      log "redis cluster: stopping node $p"
      rcli "$p" shutdown nosave >/dev/null 2>&1 || true
      stop_pid "$pid" 10
    fi
  done
}

