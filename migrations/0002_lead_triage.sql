-- Lead triage: leads (hash-partitioned by id), their score history, the
-- workspace scoring models, behavioural events (monthly partitions) and the
-- idempotency records of the REST API.

CREATE TABLE scoring_models (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    version       integer NOT NULL CHECK (version > 0),
    model         jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, version)
);

CREATE TABLE leads (
    id             uuid NOT NULL,
    workspace_id   uuid NOT NULL,
    email          text NOT NULL,
    external_id    text,
    name           text,
    phone          text,
    company        text,
    title          text,
    company_size   integer CHECK (company_size >= 0),
    industry       text,
    country        text,
    timezone       text,
    source         text,
    utm            jsonb NOT NULL DEFAULT '{}'::jsonb,
    consent        jsonb NOT NULL DEFAULT '{}'::jsonb,
    attributes     jsonb NOT NULL DEFAULT '{}'::jsonb,
    status         text NOT NULL DEFAULT 'new',
    score          smallint NOT NULL CHECK (score BETWEEN 0 AND 100),
    category       text NOT NULL,
    breakdown      jsonb NOT NULL,
    model_version  integer NOT NULL,
    correlation_id text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id)
) PARTITION BY HASH (id);
CREATE TABLE leads_p0 PARTITION OF leads FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE leads_p1 PARTITION OF leads FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE leads_p2 PARTITION OF leads FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE leads_p3 PARTITION OF leads FOR VALUES WITH (MODULUS 4, REMAINDER 3);
-- The seeds' index.
CREATE INDEX leads_status_created_idx ON leads (status, created_at);
-- Listing a workspace's leads newest first, optionally by category / source.
CREATE INDEX leads_ws_created_idx ON leads (workspace_id, created_at DESC, id DESC);
CREATE INDEX leads_ws_category_created_idx ON leads (workspace_id, category, created_at DESC, id DESC);
CREATE INDEX leads_ws_source_created_idx ON leads (workspace_id, source, created_at DESC, id DESC);

-- Uniqueness per workspace cannot live on the hash-partitioned table (a
-- unique index there must contain `id`), so these look-up tables own it:
-- a second lead with the same email merges into the first.
CREATE TABLE lead_emails (
    workspace_id  uuid NOT NULL,
    email         text NOT NULL,
    lead_id       uuid NOT NULL,
    PRIMARY KEY (workspace_id, email)
);
CREATE TABLE lead_external_ids (
    workspace_id  uuid NOT NULL,
    external_id   text NOT NULL,
    lead_id       uuid NOT NULL,
    PRIMARY KEY (workspace_id, external_id)
);

CREATE TABLE lead_scores (
    id             bigserial PRIMARY KEY,
    workspace_id   uuid NOT NULL,
    lead_id        uuid NOT NULL,
    score          smallint NOT NULL,
    category       text NOT NULL,
    breakdown      jsonb NOT NULL,
    model_version  integer NOT NULL,
    reason         text NOT NULL,
    scored_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lead_scores_lead_idx ON lead_scores (workspace_id, lead_id, scored_at DESC, id DESC);

-- Segment-style behavioural events, partitioned by event time. Rows older
-- than the first monthly partition land in the default partition.
CREATE TABLE lead_events (
    id            bigserial,
    workspace_id  uuid NOT NULL,
    lead_id       uuid NOT NULL,
    message_id    text NOT NULL,
    kind          text NOT NULL,
    name          text NOT NULL,
    properties    jsonb NOT NULL DEFAULT '{}'::jsonb,
    occurred_at   timestamptz NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE TABLE lead_events_default PARTITION OF lead_events DEFAULT;
CREATE INDEX lead_events_lead_idx ON lead_events (workspace_id, lead_id, occurred_at DESC);
INSERT INTO partitioned_tables (table_name) VALUES ('lead_events');
SELECT ensure_monthly_partitions('lead_events', 3);

-- Message ids already applied (track / identify are idempotent by message id).
CREATE TABLE lead_event_messages (
    workspace_id  uuid NOT NULL,
    message_id    text NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, message_id)
);

-- Idempotency-Key records: the first response is replayed for the same key
-- and body; a different body under the same key is refused.
CREATE TABLE idempotency_keys (
    workspace_id     uuid NOT NULL,
    key              text NOT NULL,
    request_hash     bytea NOT NULL,
    response_status  smallint NOT NULL,
    response_body    jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
