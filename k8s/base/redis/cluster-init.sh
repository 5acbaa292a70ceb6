#!/bin/bash
# Job redis-cluster-init: forms the cluster once (3 masters, 1 replica each) and, on later runs,
# re-introduces the nodes to each other by their current IPs (repairs a cluster after all pods
# were rescheduled at once). Idempotent. REDISCLI_AUTH carries the password.
set -euo pipefail
REPLICAS=${REDIS_REPLICAS:-6}
NODES=()
for i in $(seq 0 $((REPLICAS - 1))); do NODES+=("redis-cluster-$i.redis-cluster"); done

ip_of() { getent hosts "$1" | awk '{print $1; exit}'; }
info() { redis-cli -h "$1" cluster info | tr -d '\r' | awk -F: -v k="$2" '$1 == k {print $2}'; }

for node in "${NODES[@]}"; do
  until [[ -n $(ip_of "$node") ]] && redis-cli -h "$node" ping 2>/dev/null | grep -q PONG; do
    echo "redis-cluster-init: waiting for $node"
    sleep 2
  done
done

first=${NODES[0]}
if [[ $(info "$first" cluster_known_nodes) -le 1 && $(info "$first" cluster_slots_assigned) -eq 0 ]]; then
  addrs=()
  for node in "${NODES[@]}"; do addrs+=("$(ip_of "$node"):6379"); done
  echo "redis-cluster-init: creating the cluster from ${addrs[*]}"
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes
else
  echo "redis-cluster-init: cluster exists; refreshing node addresses"
  for a in "${NODES[@]}"; do
    for b in "${NODES[@]}"; do
      [[ $a == "$b" ]] || redis-cli -h "$a" cluster meet "$(ip_of "$b")" 6379 >/dev/null
    done
  done
fi

for _ in $(seq 1 90); do
  if [[ $(info "$first" cluster_state) == ok && $(info "$first" cluster_known_nodes) -ge $REPLICAS ]]; then
    echo "redis-cluster-init: cluster_state ok, $(info "$first" cluster_known_nodes) nodes"
    exit 0
  fi
  sleep 2
done
echo "redis-cluster-init: cluster not healthy" >&2
redis-cli -h "$first" cluster nodes >&2
exit 1
