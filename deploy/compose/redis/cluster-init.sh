#!/bin/bash
# Forms the 6-node Redis cluster (3 masters, 1 replica each) once all nodes answer.
# Idempotent: exits 0 at once when the cluster is already formed and healthy.
set -euo pipefail
read -r -a NODES <<<"${REDIS_CLUSTER_NODES:?}"

for node in "${NODES[@]}"; do
  until redis-cli -h "$node" -p 6379 ping 2>/dev/null | grep -q PONG; do
    echo "redis-cluster-init: waiting for $node"
    sleep 1
  done
done

state() { redis-cli -h "${NODES[0]}" -p 6379 cluster info | tr -d '\r' | awk -F: -v k="$1" '$1 == k {print $2}'; }

if [[ $(state cluster_state) == ok && $(state cluster_known_nodes) -ge ${#NODES[@]} ]]; then
  echo "redis-cluster-init: cluster already formed"
  exit 0
fi

if [[ $(state cluster_known_nodes) -le 1 ]]; then
  # CLUSTER MEET needs addresses: resolve the service names.
  addrs=()
  for node in "${NODES[@]}"; do
    addrs+=("$(getent hosts "$node" | awk '{print $1; exit}'):6379")
  done
  echo "redis-cluster-init: creating cluster of ${addrs[*]}"
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes
fi

for _ in $(seq 1 60); do
  if [[ $(state cluster_state) == ok ]]; then
    echo "redis-cluster-init: cluster_state ok"
    exit 0
  fi
  sleep 1
done
echo "redis-cluster-init: cluster did not reach cluster_state:ok" >&2
redis-cli -h "${NODES[0]}" -p 6379 cluster nodes >&2
exit 1
