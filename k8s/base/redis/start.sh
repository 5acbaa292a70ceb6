#!/bin/sh
# Starts one Redis cluster node. The node announces its pod IP (gossip) and its stable DNS name
# POD.redis-cluster (what clients are redirected to), so a rescheduled pod keeps its identity:
# nodes.conf on the volume carries the node id and the slots; the new IP spreads by gossip.
set -eu
: "${POD_NAME:?}" "${POD_IP:?}" "${REDIS_PASSWORD:?}"
umask 077
cat >/tmp/runtime.conf <<CONF
requirepass "${REDIS_PASSWORD}"
masterauth "${REDIS_PASSWORD}"
cluster-announce-ip ${POD_IP}
cluster-announce-hostname ${POD_NAME}.redis-cluster
maxmemory ${REDIS_MAXMEMORY:-1gb}
CONF
if [ -f /data/nodes.conf ]; then
  # the pod IP changes on every restart: correct our own entry before Redis reads it
  sed -i -e "/myself/ s/ [0-9.]*:6379@16379/ ${POD_IP}:6379@16379/" /data/nodes.conf
fi
exec redis-server /etc/redis/redis.conf
