#!/bin/bash
# Creates DESIGN §3's topics and their .dlq twins (idempotent: --if-not-exists).
# campaigns.allocations is compacted: the latest allocation per campaign is what matters.
set -euo pipefail
BOOTSTRAP=${KAFKA_BOOTSTRAP:?}
PARTITIONS=${TOPIC_PARTITIONS:-4}
TOPICS=(leads.inbound leads.hot leads.warm leads.nurture leads.cold leads.disqualified
  engagement.interactions campaigns.allocations)
COMPACTED=(campaigns.allocations)
KT=/opt/kafka/bin/kafka-topics.sh

until $KT --bootstrap-server "$BOOTSTRAP" --list >/dev/null 2>&1; do
  echo "kafka-init: waiting for $BOOTSTRAP"
  sleep 2
done

existing=$($KT --bootstrap-server "$BOOTSTRAP" --list)
for topic in "${TOPICS[@]}"; do
  for name in "$topic" "$topic.dlq"; do
    if grep -qxF "$name" <<<"$existing"; then
      echo "kafka-init: $name exists"
      continue
    fi
    config=()
    if [[ $name == "$topic" && " ${COMPACTED[*]} " == *" $topic "* ]]; then
      config=(--config cleanup.policy=compact)
    fi
    $KT --bootstrap-server "$BOOTSTRAP" --create --if-not-exists --topic "$name" \
      --partitions "$PARTITIONS" --replication-factor 1 "${config[@]}"
  done
done
echo "kafka-init: $(($(wc -w <<<"${TOPICS[*]}") * 2)) topics present"
