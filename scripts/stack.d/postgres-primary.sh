# shellcheck shell=bash
# scripts/stack.d/postgres-primary.sh — the machine's Postgres cluster on 127.0.0.1:5432, made ready for the suite.
# Sourced by scripts/stack (which sets the variables it uses); not run on its own.

PG_ADMIN_TCP=
# psql as superuser on the primary: TCP trust if that works, else the local socket as user postgres
pg_admin() {
  if [[ -z $PG_ADMIN_TCP ]]; then
    if psql -X -w -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
      PG_ADMIN_TCP=yes
    else
      PG_ADMIN_TCP=no
    fi
  fi
  if [[ $PG_ADMIN_TCP == yes ]]; then
    psql -X -w -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -At "$@"
  else
    as_postgres psql -X -w -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres -At "$@"
  fi
}

pg_primary_ready() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; }

pg_primary_start() {
  have pg_lsclusters || die "Postgres is not answering on $PG_HOST:$PG_PORT and there is no pg_lsclusters to start it"
  local line ver name
  line=$(pg_lsclusters --no-header 2>/dev/null | awk -v p="$PG_PORT" '$3 == p { print $1, $2, $4; exit }')
  if [[ -z $line ]]; then
    ver=$(basename "$(dirname "$(pg_bindir)")")
    name=main
    [[ -e /etc/postgresql/$ver/main ]] && name=suite # main exists on another port: leave it alone
    log "postgres primary: creating cluster $ver/$name on port $PG_PORT"
    pg_createcluster "$ver" "$name" --port "$PG_PORT" >/dev/null
    line="$ver $name"
  fi
  local status
  read -r ver name status <<<"$line"
  # a cluster that is still starting up (or recovering) is "online" to pg_lsclusters but not yet
  # accepting connections; starting it again would fail with "Cluster is already running."
  if [[ ${status:-} == online* ]]; then
    log "postgres primary: cluster $ver/$name is running; waiting for it to accept connections"
    return 0
  fi
  log "postgres primary: starting cluster $ver/$name"
  if [[ -d /run/systemd/system ]] && have systemctl; then
    systemctl start "postgresql@$ver-$name"
  elif ! spawn pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start </dev/null; then
    # most often a race with another starter (exit 2: "already running"); the caller waits for
    # readiness and fails with the log's name if it never comes
    log "postgres primary: pg_ctlcluster start failed; waiting for the cluster anyway (log: /var/log/postgresql/postgresql-$ver-$name.log)"
  fi
}

can_connect_tcp() { psql -X -w -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; }
can_replicate_tcp() {
  psql -X -w "host=$PG_HOST port=$PG_PORT user=postgres dbname=postgres replication=true" \
    -Atc 'IDENTIFY_SYSTEM' >/dev/null 2>&1
}

# make sure 127.0.0.1 may connect (normal and replication) without a password; prepends rules to pg_hba.conf
pg_primary_hba() {
  if can_connect_tcp && can_replicate_tcp; then
    log "postgres primary: trust for 127.0.0.1 (connections, replication) already ok"
    return 0
  fi
  local hba tmp
  hba=$(pg_admin -c 'show hba_file')
  [[ -f $hba ]] || die "postgres primary: hba file '$hba' not found"
  log "postgres primary: adding trust rules for 127.0.0.1 to $hba"
  [[ -f $hba.suite-stack.orig ]] || cp -p "$hba" "$hba.suite-stack.orig"
  tmp=$(mktemp)
  {
    echo "# added by suite scripts/stack: trust loopback (local development stack)"
    can_connect_tcp || echo "host    all             all             127.0.0.1/32            trust"
    can_replicate_tcp || echo "host    replication     all             127.0.0.1/32            trust"
    cat "$hba"
  } >"$tmp"
  cat "$tmp" >"$hba" # keep owner and mode of the original
  rm -f "$tmp"
  pg_admin -c 'select pg_reload_conf()' >/dev/null
  wait_until 10 "pg_hba reload" can_connect_tcp || die "postgres primary: still no trust connection from 127.0.0.1"
  wait_until 10 "pg_hba reload" can_replicate_tcp || die "postgres primary: still no replication connection from 127.0.0.1"
}

# The suite updates and deletes rows all the time (outbox, scheduled steps, counters): without
# autovacuum their dead rows pile up and every scan of them slows down, run after run (some CI
# images turn it off for speed; docs/benchmarks.md, "Findings, 2026-12-02"). It is a reload-time
# setting, so this needs no restart; ALTER SYSTEM's file takes precedence over conf.d.
autovacuum_on() { [[ $(pg_admin -c 'show autovacuum') == on ]]; }
pg_primary_autovacuum() {
  if autovacuum_on; then
    log "postgres primary: autovacuum on"
    return 0
  fi
  log "postgres primary: autovacuum is off ($(pg_admin -c "select sourcefile from pg_settings where name = 'autovacuum'")); turning it on (ALTER SYSTEM, reload)"
  pg_admin -c 'alter system set autovacuum = on' >/dev/null
  pg_admin -c 'select pg_reload_conf()' >/dev/null
  wait_until 10 "autovacuum on" autovacuum_on ||
    warn "postgres primary: autovacuum still off after the reload"
}

PG_MAJOR=
PG_BIN=
pg_primary() {
  if pg_primary_ready; then
    log "postgres primary: already running on $PG_HOST:$PG_PORT"
  else
    pg_primary_start
    wait_until 180 "postgres primary on $PG_PORT" pg_primary_ready || die "postgres primary did not start"
    log "postgres primary: up on $PG_HOST:$PG_PORT"
  fi
  PG_MAJOR=$(($(pg_admin -c 'show server_version_num') / 10000))
  PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
  [[ -x $PG_BIN/pg_ctl ]] || die "postgres primary is version $PG_MAJOR but $PG_BIN/pg_ctl is missing (apt-get install postgresql-$PG_MAJOR)"

  local wal_level senders
  wal_level=$(pg_admin -c 'show wal_level')
  senders=$(pg_admin -c 'show max_wal_senders')
  if [[ $wal_level == minimal || $senders -lt 2 ]]; then
    die "postgres primary: wal_level=$wal_level max_wal_senders=$senders; streaming replication needs wal_level=replica and max_wal_senders>=2 (set them and restart Postgres)"
  fi
  pg_primary_hba
  pg_primary_autovacuum

  if [[ $(pg_admin -c "select count(*) from pg_database where datname = '$PG_DB'") == 1 ]]; then
    log "postgres primary: database $PG_DB already exists"
  else
    pg_admin -c "create database $PG_DB" >/dev/null
    log "postgres primary: created database $PG_DB"
  fi
}

