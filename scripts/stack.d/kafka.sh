# shellcheck shell=bash
# scripts/stack.d/kafka.sh — Apache Kafka in KRaft mode (one JVM: broker + controller) on 127.0.0.1:9092.
#
# The version is deploy/local/kafka/pom.xml's kafka.version. Maven resolves the broker's jars from
# that pom into a cache outside the checkout (one directory per pom digest, so a version change
# resolves anew and the old broker keeps running until the switch). The data directory is formatted
# once (KRaft storage), and supervisord runs the broker with deploy/local/kafka/{server.properties,
# log4j2.xml} copied into the stack home. Topics are the suite's to create (`suite-admin topics`).
# Sourced by scripts/stack (which sets the variables it uses); not run on its own.

KAFKA_POM=$REPO_ROOT/deploy/local/kafka/pom.xml
KAFKA_HOME=$STACK_HOME/kafka
KAFKA_DATA=$KAFKA_HOME/data
KAFKA_CACHE=${SUITE_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/suite-stack/kafka}
KAFKA_HEAP=${SUITE_KAFKA_HEAP:-512m}
# kafka-run-class.sh's JVM flags, with a smaller heap: Kafka serves from the OS page cache
KAFKA_JVM_OPTS="-Xms$KAFKA_HEAP -Xmx$KAFKA_HEAP -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true"

kafka_version() { sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM"; }

# prints the directory of the broker's jars for the current pom, resolving them first if needed
kafka_libs() {
  local digest dir
  digest=$(sha256sum "$KAFKA_POM" | cut -c1-12)
  dir=$KAFKA_CACHE/$digest
  if [[ -f $dir/.complete ]]; then
    printf '%s\n' "$dir/libs"
    return 0
  fi
  log "kafka: resolving Apache Kafka $(kafka_version) with Maven (deploy/local/kafka/pom.xml -> $dir; log $STACK_LOGS/kafka-maven.log)" >&2
  rm -rf "$dir"
  mkdir -p "$dir"
  (cd "$dir" && mvn -B -q -f "$KAFKA_POM" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$dir/libs") >"$STACK_LOGS/kafka-maven.log" 2>&1 ||
    die "kafka: Maven could not resolve the broker's jars; see $STACK_LOGS/kafka-maven.log"
  compgen -G "$dir/libs/kafka_2.13-*.jar" >/dev/null || die "kafka: no kafka_2.13 jar in $dir/libs"
  touch "$dir/.complete"
  printf '%s\n' "$dir/libs"
}

kafka_java() { readlink -f "$(command -v java)"; }

# the broker's configuration: the repo's files plus the data directory
kafka_config() {
  mkdir -p "$KAFKA_HOME" "$KAFKA_DATA"
  local changed=1
  {
    cat "$REPO_ROOT/deploy/local/kafka/server.properties"
    printf '\n# added by scripts/stack\nlog.dirs=%s\n' "$KAFKA_DATA"
  } | write_if_changed "$KAFKA_HOME/server.properties" 0644 && changed=0
  write_if_changed "$KAFKA_HOME/log4j2.xml" 0644 <"$REPO_ROOT/deploy/local/kafka/log4j2.xml" && changed=0
  return $changed
}

# formats the data directory once (KRaft: a cluster id and the metadata log's bootstrap)
kafka_format() {
  local libs=$1 id
  if [[ -f $KAFKA_DATA/meta.properties ]]; then
    log "kafka: storage already formatted ($KAFKA_DATA, cluster $(sed -n 's/^cluster.id=//p' "$KAFKA_DATA/meta.properties"))"
    return 0
  fi
  id=$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>>"$STACK_LOGS/kafka-format.log" | tail -n 1)
  [[ -n $id ]] || die "kafka: no cluster id from StorageTool; see $STACK_LOGS/kafka-format.log"
  log "kafka: formatting $KAFKA_DATA (cluster id $id)"
  java -Dlog4j2.configurationFile="$KAFKA_HOME/log4j2.xml" -cp "$libs/*" kafka.tools.StorageTool format \
    -t "$id" -c "$KAFKA_HOME/server.properties" >>"$STACK_LOGS/kafka-format.log" 2>&1 ||
    die "kafka: formatting failed; see $STACK_LOGS/kafka-format.log"
}

# The broker opens its client port only once it serves (its acceptors start after it is unfenced);
# `suite-admin topics` and `check-broker` then make real requests.
kafka_answers() { port_open "${BROKER_ADDR##*:}"; }

kafka_up() {
  local libs state config_changed=no
  libs=$(kafka_libs)
  kafka_config && config_changed=yes
  kafka_format "$libs"
  state=$(program_state kafka)
  if [[ $state != RUNNING && $state != STARTING && $state != BACKOFF ]] && port_open "${BROKER_ADDR##*:}"; then
    die "port ${BROKER_ADDR##*:} is taken by something other than the stack's Kafka (ss -ltnp | grep ${BROKER_ADDR##*:})"
  fi
  if [[ $state != RUNNING && $state != STARTING && $state != BACKOFF ]]; then
    # partitions of topics deleted while their logs could not be removed (test runs' topics) come
    # back as `<topic>-<n>.<id>-stray` directories that every start loads again: with thousands of
    # them a restart took minutes. The cluster no longer has them; they go while the broker is down.
    find "$KAFKA_DATA" -maxdepth 1 -type d -name '*-stray' -exec rm -rf {} + 2>/dev/null || true
  fi
  supervisor_up "JAVA=$(kafka_java)" "KAFKA_JVM_OPTS=$KAFKA_JVM_OPTS" "KAFKA_HOME=$KAFKA_HOME" "KAFKA_LIBS=$libs"
  state=$(program_state kafka)
  if [[ $state == STOPPED || $state == FATAL || $state == EXITED ]]; then
    log "kafka: $state; starting it"
    supervisorctl start kafka >/dev/null || true
  elif [[ $config_changed == yes && $state == RUNNING ]]; then
    log "kafka: server.properties or log4j2.xml changed; restarting the broker"
    supervisorctl restart kafka >/dev/null || true
  fi
  if ! wait_until 120 "Kafka on $BROKER_ADDR" kafka_answers; then
    tail -n 30 "$STACK_LOGS/kafka.log" >&2 || true
    die "kafka: not answering on $BROKER_ADDR (supervisor: $(program_state kafka)); see $STACK_LOGS/kafka.log"
  fi
  log "kafka: Apache Kafka $(kafka_version) up on $BROKER_ADDR (pid $(kafka_pid), supervised; data $KAFKA_DATA)"
}

kafka_pid() { supervisorctl pid kafka 2>/dev/null | grep -E '^[1-9][0-9]*$'; }
