# shellcheck shell=bash
# scripts/stack.d/admin.sh — suite-admin, the suite's operator CLI, built from this checkout: it creates
# the topics (their one definition is libs/domain/src/topics.rs) and checks the broker end to end.
# SUITE_STACK_PROFILE picks the cargo profile it is built with: release (default; `scripts/stack up`
# builds the services with it too) or dev (scripts/test, whose tests build that profile anyway).
# Sourced by scripts/stack (which sets the variables it uses); not run on its own.

STACK_PROFILE=${SUITE_STACK_PROFILE:-release}

profile_dir() { if [[ $STACK_PROFILE == dev ]]; then echo debug; else echo "$STACK_PROFILE"; fi; }
ADMIN_BIN=$TARGET_DIR/$(profile_dir)/suite-admin

# cargo_build PACKAGE...: build these packages of this checkout with the stack's profile
cargo_build() {
  local args=() p
  for p in "$@"; do args+=(-p "$p"); done
  ensure_build_tools
  log "cargo build --profile $STACK_PROFILE ${args[*]}"
  (cd "$REPO_ROOT" && cargo build --locked --profile "$STACK_PROFILE" "${args[@]}") ||
    die "cargo build failed"
}

suite_admin() { (cd "$REPO_ROOT" && "$ADMIN_BIN" "$@"); }

topics() {
  cargo_build suite-admin
  log "topics: suite-admin topics --partitions $TOPIC_PARTITIONS"
  suite_admin topics --partitions "$TOPIC_PARTITIONS" | sed 's/^/    /' || die "could not create the topics"
}

check() {
  [[ -x $ADMIN_BIN ]] || cargo_build suite-admin
  log "check: suite-admin check-broker (produce a record, consume it back)"
  suite_admin check-broker --timeout 30 | sed 's/^/    /' || die "broker end-to-end check failed"
}
