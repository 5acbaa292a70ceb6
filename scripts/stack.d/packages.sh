# shellcheck shell=bash
# scripts/stack.d/packages.sh — the Debian packages and build tools the stack needs.
# Sourced by scripts/stack (which sets the variables it uses); not run on its own.

ensure_packages() {
  local want=()
  if ! have pg_basebackup || ! have psql || ! have pg_isready || [[ -z $(pg_bindir) ]]; then
    want+=(postgresql postgresql-client postgresql-common)
  fi
  have redis-server || want+=(redis-server)
  have redis-cli || want+=(redis-tools)
  system_python >/dev/null || want+=(python3 python3-venv python3-pip)
  java_ok || want+=(openjdk-17-jre-headless)
  have mvn || want+=(maven)
  have curl || want+=(curl ca-certificates)
  have flock || want+=(util-linux)
  have runuser || want+=(util-linux)
  if ((${#want[@]})); then
    apt_install "${want[@]}"
  else
    log "packages: postgresql, redis, python3-venv, java $(java_major), maven, curl already installed"
  fi
}

# the major version of the java on PATH (empty if none)
java_major() {
  have java || return 0
  java -version 2>&1 | awk -F'"' '/version/ { split($2, v, "."); print v[1]; exit }'
}
# Kafka 4.x brokers need Java 17 or newer
java_ok() {
  local major
  major=$(java_major)
  [[ -n $major ]] && ((major >= 17))
}

# what `cargo build` needs besides the Rust toolchain
ensure_build_tools() {
  local want=()
  have cc || want+=(build-essential)
  have make || want+=(make)
  have pkg-config || want+=(pkg-config)
  have perl || want+=(perl) # librdkafka's configure script
  if ((${#want[@]})); then apt_install "${want[@]}"; fi
  have cargo || die "cargo not found: install the Rust toolchain (rustup) first"
}

