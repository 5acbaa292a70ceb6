# shellcheck shell=bash
# scripts/stack.d/postgres-replica.sh — a streaming replica on 127.0.0.1:5433 (physical slot on the primary).
# Sourced by scripts/stack (which sets the variables it uses); not run on its own.

replica_psql() { psql -X -w -h "$PG_HOST" -p "$REPLICA_PORT" -U postgres -d postgres -Atc "$1"; }
replica_in_recovery() { [[ $(replica_psql 'select pg_is_in_recovery()' 2>/dev/null) == t ]]; }
replica_streaming_state() {
  pg_admin -c "select r.state from pg_stat_replication r join pg_replication_slots s on s.active_pid = r.pid
               where s.slot_name = '$REPLICA_SLOT'" 2>/dev/null
}
replica_streaming() { [[ $(replica_streaming_state) == streaming ]]; }
replica_ok() { replica_in_recovery && replica_streaming; }
replica_running() { [[ -f $REPLICA_DIR/PG_VERSION ]] && as_postgres "$PG_BIN/pg_ctl" -D "$REPLICA_DIR" status >/dev/null 2>&1; }

# the data dir belongs to the current primary (same major version, same system identifier) and is a standby
replica_dir_valid() {
  [[ -f $REPLICA_DIR/PG_VERSION && -f $REPLICA_DIR/standby.signal ]] || return 1
  [[ $(cat "$REPLICA_DIR/PG_VERSION") == "$PG_MAJOR" ]] || return 1
  local mine theirs
  mine=$(LC_ALL=C "$PG_BIN/pg_controldata" "$REPLICA_DIR" 2>/dev/null | awk -F: '/Database system identifier/ { gsub(/ /, "", $2); print $2 }')
  theirs=$(pg_admin -c 'select system_identifier from pg_control_system()')
  [[ -n $mine && $mine == "$theirs" ]]
}

replica_write_config() {
  # hot standby needs these at least as high as on the primary
  local settings
  settings=$(pg_admin -c "select name || ' = ' || setting from pg_settings where name in
    ('max_connections', 'max_worker_processes', 'max_wal_senders', 'max_prepared_transactions',
     'max_locks_per_transaction') order by name")
  as_postgres tee "$REPLICA_DIR/postgresql.conf" >/dev/null <<EOF
# written by scripts/stack: streaming replica of $PG_HOST:$PG_PORT (primary_conninfo is in postgresql.auto.conf)
port = $REPLICA_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$REPLICA_SOCKET_DIR'
cluster_name = 'suite-replica'
hot_standby = on
hot_standby_feedback = on
wal_receiver_status_interval = 1s
shared_buffers = 64MB
logging_collector = off
$settings
EOF
  as_postgres tee "$REPLICA_DIR/pg_hba.conf" >/dev/null <<'EOF'
# written by scripts/stack
local   all             all                                     trust
host    all             all             127.0.0.1/32            trust
host    replication     all             127.0.0.1/32            trust
EOF
  as_postgres tee "$REPLICA_DIR/pg_ident.conf" >/dev/null </dev/null
}

replica_start() {
  install -d -o postgres -g postgres -m 0755 "$REPLICA_SOCKET_DIR"
  touch "$STACK_LOGS/replica.log"
  chown postgres:postgres "$STACK_LOGS/replica.log"
  replica_write_config
  log "postgres replica: starting on $PG_HOST:$REPLICA_PORT"
  (cd / && spawn runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$REPLICA_DIR" -l "$STACK_LOGS/replica.log" -w -t 60 \
    -o "-p $REPLICA_PORT -c listen_addresses=127.0.0.1 -k $REPLICA_SOCKET_DIR" start >/dev/null </dev/null)
}

replica_stop() {
  if replica_running; then
    log "postgres replica: stopping"
    as_postgres "$PG_BIN/pg_ctl" -D "$REPLICA_DIR" -w -t 60 -m fast stop >/dev/null ||
      as_postgres "$PG_BIN/pg_ctl" -D "$REPLICA_DIR" -w -t 30 -m immediate stop >/dev/null || true
  fi
}

replica_drop_slot() {
  pg_admin -c "select pg_drop_replication_slot(slot_name) from pg_replication_slots
               where slot_name = '$REPLICA_SLOT' and not active" >/dev/null
}

replica_create() {
  replica_stop
  rm -rf "$REPLICA_DIR"
  replica_drop_slot
  if [[ -n $(pg_admin -c "select 1 from pg_replication_slots where slot_name = '$REPLICA_SLOT'") ]]; then
    die "postgres replica: slot $REPLICA_SLOT on the primary is in use by another process"
  fi
  log "postgres replica: pg_basebackup from $PG_HOST:$PG_PORT into $REPLICA_DIR (slot $REPLICA_SLOT)"
  install -d -o postgres -g postgres -m 0700 "$REPLICA_DIR"
  as_postgres "$PG_BIN/pg_basebackup" -h "$PG_HOST" -p "$PG_PORT" -U postgres -w -D "$REPLICA_DIR" \
    -R -X stream -C -S "$REPLICA_SLOT" -c fast
  replica_start
}

pg_replica() {
  if replica_running && replica_ok; then
    log "postgres replica: already streaming on $PG_HOST:$REPLICA_PORT"
    return 0
  fi
  if ! replica_running && port_open "$REPLICA_PORT"; then
    die "port $REPLICA_PORT is taken by something other than the stack's replica ($REPLICA_DIR)"
  fi
  local fresh=no
  if [[ -d $REPLICA_DIR ]] && replica_dir_valid; then
    if ! replica_running; then
      replica_start || warn "postgres replica: did not start from the existing data dir"
    fi
  else
    [[ -d $REPLICA_DIR ]] && log "postgres replica: $REPLICA_DIR is not a standby of this primary; re-creating it"
    replica_create
    fresh=yes
  fi
  if ! wait_until 60 "the replica to stream" replica_ok; then
    [[ $fresh == yes ]] && die "postgres replica: a fresh replica does not stream; see $STACK_LOGS/replica.log"
    log "postgres replica: broken; re-creating it"
    replica_create
    wait_until 90 "the replica to stream" replica_ok || die "postgres replica: does not stream; see $STACK_LOGS/replica.log"
  fi
  log "postgres replica: streaming on $PG_HOST:$REPLICA_PORT"
}

