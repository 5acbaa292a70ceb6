# syntax=docker/dockerfile:1.7
#
# One image for the whole suite: the three services and the operator CLI.
#   docker build -t marketing-suite:local .
#   docker run --rm marketing-suite:local lead-triage            (or engagement, campaign-optimization)
#   docker run --rm marketing-suite:local suite-admin config
#
# Stages:
#   chef     Rust toolchain + cargo-chef (pinned)
#   planner  computes the dependency "recipe" from the manifests only
#   builder  builds the dependencies from the recipe (a cached layer that only changes when
#            Cargo.toml/Cargo.lock change), then the workspace binaries
#   runtime  debian:bookworm-slim (same glibc as the builder), ca-certificates + curl, non-root
#
# rdkafka builds librdkafka from source and links it statically (plus libz-static): that needs
# gcc, make, perl and pkg-config, which the rust:*-bookworm image already has; the runtime needs
# nothing but glibc and CA certificates.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm
ARG CARGO_CHEF_VERSION=0.1.78

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS chef
ARG CARGO_CHEF_VERSION
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}"
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
ENV CARGO_TERM_COLOR=never
COPY --from=planner /src/recipe.json recipe.json
# Dependencies only: this layer is reused until Cargo.toml / Cargo.lock change.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    cargo build --release --locked \
      -p lead-triage -p engagement -p campaign-optimization -p suite-admin \
 && mkdir -p /out \
 && cp target/release/lead-triage target/release/engagement \
       target/release/campaign-optimization target/release/suite-admin /out/

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# curl is only for the HEALTHCHECK (the binaries have no health sub-command); tini reaps
# zombies and forwards SIGTERM so the graceful shutdown (SUITE__HTTP__SHUTDOWN_GRACE_SECS) runs.
# Unpinned on purpose: bookworm point releases replace package versions (a pin would break the
# build); the debian:bookworm-slim tag fixes the release, and rebuilding picks up security fixes.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 suite \
 && useradd --system --uid 10001 --gid suite --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin suite
COPY --from=builder /out/lead-triage /out/engagement /out/campaign-optimization /out/suite-admin /usr/local/bin/
# In a container every service listens on all interfaces, port 8080 (the native stack uses
# 127.0.0.1:8081-8083). SUITE__SERVICE is set by each binary itself and must not be set here.
ENV SUITE__HTTP__BIND=0.0.0.0:8080 \
    SUITE__TELEMETRY__LOG_FORMAT=json
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080
STOPSIGNAL SIGTERM
# Liveness only (/healthz): readiness (/readyz) depends on Postgres, Redis and Kafka and is what
# compose's depends_on and Kubernetes' readinessProbe use. Kubernetes ignores HEALTHCHECK.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["lead-triage"]
