-- Engagement: outreach plans and their durable steps, send reservations,
-- communications and interactions (monthly partitions), the consent ledger,
-- provider-event dedupe and the latest allocation per campaign as consumed
-- from campaigns.allocations.

-- The latest allocation engagement has seen per campaign (highest sequence
-- wins; a redelivered or older event changes nothing).
CREATE TABLE engagement_allocations (
    campaign_id   uuid PRIMARY KEY,
    workspace_id  uuid NOT NULL,
    status        text NOT NULL CHECK (status IN ('active', 'paused', 'archived')),
    sequence      bigint NOT NULL,
    shares        jsonb NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now()
);

-- One plan per (lead, campaign), however often the triage event arrives.
CREATE TABLE outreach_plans (
    id              uuid PRIMARY KEY,
    workspace_id    uuid NOT NULL,
    lead_id         uuid NOT NULL,
    campaign_id     uuid NOT NULL,
    variant_id      uuid NOT NULL,
    category        text NOT NULL,
    correlation_id  text NOT NULL,
    status          text NOT NULL DEFAULT 'active'
                    CHECK (status IN ('active', 'completed', 'stopped')),
    -- the planned ladder: [{"index": 0, "channel": "phone", "due_at": "..."}, ...]
    steps           jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (lead_id, campaign_id)
);
CREATE INDEX outreach_plans_lead_idx ON outreach_plans (workspace_id, lead_id);

-- Durable steps, claimed by any instance with FOR UPDATE SKIP LOCKED. A
-- claimed step is 'running' until `locked_until`; `attempts` is the fencing
-- token of the claim (only the holder of the latest claim may finish it).
CREATE TABLE scheduled_steps (
    id            uuid PRIMARY KEY,
    seq           bigserial NOT NULL UNIQUE,
    plan_id       uuid NOT NULL REFERENCES outreach_plans (id) ON DELETE CASCADE,
    workspace_id  uuid NOT NULL,
    lead_id       uuid NOT NULL,
    campaign_id   uuid NOT NULL,
    step_index    integer NOT NULL CHECK (step_index >= 0),
    channel       text NOT NULL CHECK (channel IN ('phone', 'sms', 'email')),
    due_at        timestamptz NOT NULL,
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'running', 'sent', 'skipped', 'failed', 'dead', 'indeterminate')),
    attempts      integer NOT NULL DEFAULT 0,
    locked_until  timestamptz,
    outcome       text,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (plan_id, step_index)
);
CREATE INDEX scheduled_steps_due_idx ON scheduled_steps (due_at) WHERE status = 'pending';
CREATE INDEX scheduled_steps_lease_idx ON scheduled_steps (locked_until) WHERE status = 'running';
CREATE INDEX scheduled_steps_lead_idx ON scheduled_steps (workspace_id, lead_id, due_at);

-- A send is reserved under its unique key before the provider is called;
-- the key is the provider's idempotency key. `reserved` rows older than a
-- claim are sends whose outcome is unknown (a crash after the call): they
-- are never repeated automatically.
CREATE TABLE send_reservations (
    id                   uuid PRIMARY KEY,
    workspace_id         uuid NOT NULL,
    lead_id              uuid NOT NULL,
    campaign_id          uuid NOT NULL,
    variant_id           uuid NOT NULL,
    step_index           integer NOT NULL,
    channel              text NOT NULL CHECK (channel IN ('phone', 'sms', 'email')),
    step_id              uuid NOT NULL,
    provider             text NOT NULL,
    status               text NOT NULL DEFAULT 'reserved'
                         CHECK (status IN ('reserved', 'sent', 'failed', 'indeterminate')),
    attempts             integer NOT NULL DEFAULT 0,
    provider_message_id  text,
    error                text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (lead_id, campaign_id, step_index, channel)
);
-- GET /v1/sends: newest first per workspace, optionally by lead, campaign, status.
CREATE INDEX send_reservations_ws_page ON send_reservations (workspace_id, created_at DESC, id DESC);
CREATE INDEX send_reservations_lead_page ON send_reservations (workspace_id, lead_id, created_at DESC, id DESC);
CREATE INDEX send_reservations_campaign_page ON send_reservations (workspace_id, campaign_id, created_at DESC, id DESC);

-- The messages sent (rendered), partitioned by month.
CREATE TABLE communications (
    id            uuid NOT NULL,
    workspace_id  uuid NOT NULL,
    lead_id       uuid NOT NULL,
    campaign_id   uuid NOT NULL,
    variant_id    uuid NOT NULL,
    step_index    integer NOT NULL,
    channel       text NOT NULL,
    provider      text NOT NULL,
    subject       text,
    body          text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE TABLE communications_default PARTITION OF communications DEFAULT;
CREATE INDEX communications_lead_idx ON communications (workspace_id, lead_id, created_at DESC);
INSERT INTO partitioned_tables (table_name) VALUES ('communications');
SELECT ensure_monthly_partitions('communications', 3);

-- Everything that happened to a send or a lead, partitioned by month.
CREATE TABLE interactions (
    id                 uuid NOT NULL,
    workspace_id       uuid NOT NULL,
    lead_id            uuid NOT NULL,
    campaign_id        uuid,
    variant_id         uuid,
    send_id            uuid,
    channel            text NOT NULL CHECK (channel IN ('phone', 'sms', 'email')),
    type               text NOT NULL
                       CHECK (type IN ('sent', 'delivered', 'opened', 'clicked', 'replied',
                                       'converted', 'bounced', 'unsubscribed')),
    occurred_at        timestamptz NOT NULL,
    provider_event_id  text,
    correlation_id     text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE TABLE interactions_default PARTITION OF interactions DEFAULT;
-- The seeds' interactions(type, timestamp).
CREATE INDEX interactions_type_occurred_idx ON interactions (type, occurred_at);
CREATE INDEX interactions_lead_idx ON interactions (workspace_id, lead_id, occurred_at DESC);
INSERT INTO partitioned_tables (table_name) VALUES ('interactions');
SELECT ensure_monthly_partitions('interactions', 3);

-- POST /v1/interactions is idempotent by the provider's event id.
CREATE TABLE interaction_provider_events (
    workspace_id       uuid NOT NULL,
    provider_event_id  text NOT NULL,
    interaction_id     uuid NOT NULL,
    occurred_at        timestamptz NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, provider_event_id)
);

-- The consent ledger: append-only; the current state of a (lead, channel)
-- is its latest row, else the consent flags the lead arrived with.
CREATE TABLE consent_ledger (
    id            bigserial PRIMARY KEY,
    workspace_id  uuid NOT NULL,
    lead_id       uuid NOT NULL,
    channel       text NOT NULL CHECK (channel IN ('phone', 'sms', 'email')),
    status        text NOT NULL CHECK (status IN ('granted', 'withdrawn')),
    source        text NOT NULL,
    legal_basis   text NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    interaction_id uuid
);
CREATE INDEX consent_ledger_lead_idx ON consent_ledger (workspace_id, lead_id, channel, id DESC);

CREATE FUNCTION consent_ledger_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'consent_ledger is append-only';
END;
$$;
CREATE TRIGGER consent_ledger_no_change BEFORE UPDATE OR DELETE ON consent_ledger
    FOR EACH ROW EXECUTE FUNCTION consent_ledger_append_only();
