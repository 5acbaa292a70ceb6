#!/bin/bash
# Streaming read replica: on first start, clone the primary with pg_basebackup -R (writes
# standby.signal and primary_conninfo) using the slot the primary's init script created;
# afterwards just start the standby. Runs as the postgres user.
set -euo pipefail
: "${PGDATA:=/var/lib/postgresql/data}"
: "${PRIMARY_HOST:?}" "${REPLICATION_USER:?}" "${REPLICATION_PASSWORD:?}" "${REPLICATION_SLOT:?}"

if [[ ! -s $PGDATA/PG_VERSION ]]; then
  export PGPASSWORD=$REPLICATION_PASSWORD
  until pg_isready -q -h "$PRIMARY_HOST" -p 5432; do
    echo "replica: waiting for $PRIMARY_HOST"
    sleep 1
  done
  rm -rf "${PGDATA:?}"/*
  pg_basebackup -h "$PRIMARY_HOST" -p 5432 -U "$REPLICATION_USER" -D "$PGDATA" \
    -R -X stream -S "$REPLICATION_SLOT" --checkpoint=fast --progress
  chmod 0700 "$PGDATA"
fi

exec postgres -c hot_standby=on -c hot_standby_feedback=on -c max_standby_streaming_delay=30s
