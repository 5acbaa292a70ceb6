-- Base schema shared by every service: tenancy, API keys, the transactional
-- outbox, exactly-once bookkeeping, dead letters and the audit log.

CREATE TABLE workspaces (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    settings    jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Keys are shown once at creation; only their SHA-256 is stored. A key has
-- 256 bits of entropy, so a fast hash is enough (no password stretching).
CREATE TABLE api_keys (
    id                   uuid PRIMARY KEY,
    workspace_id         uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name                 text NOT NULL,
    prefix               text NOT NULL,
    key_hash             bytea NOT NULL,
    scopes               text[] NOT NULL CHECK (scopes <@ ARRAY['read', 'write', 'admin']::text[]),
    rate_limit_per_sec   integer CHECK (rate_limit_per_sec > 0),
    created_at           timestamptz NOT NULL DEFAULT now(),
    revoked_at           timestamptz
);
CREATE UNIQUE INDEX api_keys_key_hash_key ON api_keys (key_hash);
CREATE INDEX api_keys_workspace_idx ON api_keys (workspace_id);

-- Transactional outbox: rows are written in the caller's transaction and
-- deleted by a relay only after the broker acknowledged them.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    topic       text NOT NULL,
    key         bytea,
    payload     bytea NOT NULL,
    headers     jsonb NOT NULL DEFAULT '[]'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Exactly-once effects: a consumer inserts (consumer, event id) in the same
-- transaction as its effects; a redelivered event finds its row and stops.
CREATE TABLE processed_events (
    consumer      text NOT NULL,
    event_id      text NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX processed_events_processed_at_idx ON processed_events (processed_at);

-- Every record a consumer gave up on, kept for operators and replay.
CREATE TABLE dead_letters (
    id              bigserial PRIMARY KEY,
    consumer        text NOT NULL,
    topic           text NOT NULL,
    "partition"     integer NOT NULL,
    "offset"        bigint NOT NULL,
    key             bytea,
    payload         bytea,
    headers         jsonb NOT NULL DEFAULT '[]'::jsonb,
    error_class     text NOT NULL,
    error_message   text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    replayed_at     timestamptz,
    UNIQUE (consumer, topic, "partition", "offset")
);

-- Monthly range partitions, created ahead by ensure_monthly_partitions().
-- Tables listed here are maintained by `suite-admin migrate` and by every
-- service's maintenance task.
CREATE TABLE partitioned_tables (
    table_name  text PRIMARY KEY
);

CREATE FUNCTION ensure_monthly_partitions(parent text, months_ahead integer)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    month_start date := date_trunc('month', now() - interval '1 month')::date;
    created integer := 0;
    part text;
BEGIN
    FOR i IN 0 .. months_ahead + 1 LOOP
        part := format('%s_y%sm%s', parent,
                       to_char(month_start, 'YYYY'), to_char(month_start, 'MM'));
        IF to_regclass(part) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                part, parent, month_start, (month_start + interval '1 month')::date);
            created := created + 1;
        END IF;
        month_start := (month_start + interval '1 month')::date;
    END LOOP;
    RETURN created;
END;
$$;

CREATE FUNCTION ensure_all_monthly_partitions(months_ahead integer)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    t text;
    created integer := 0;
BEGIN
    FOR t IN SELECT table_name FROM partitioned_tables ORDER BY table_name LOOP
        created := created + ensure_monthly_partitions(t, months_ahead);
    END LOOP;
    RETURN created;
END;
$$;

CREATE TABLE audit_log (
    id            bigserial,
    workspace_id  uuid,
    actor         text NOT NULL,
    action        text NOT NULL,
    subject       text,
    details       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX audit_log_workspace_idx ON audit_log (workspace_id, created_at);
INSERT INTO partitioned_tables (table_name) VALUES ('audit_log');
SELECT ensure_monthly_partitions('audit_log', 3);
