-- Campaign optimization (owned by campaign-optimization): per-variant
-- counters fed by engagement.interactions, spend per campaign and day, the
-- optimizer's bookkeeping, and the performance summary served by the API.

-- Counts per variant. Exactly-once: every increment happens in the
-- transaction that records the interaction's id in processed_events.
CREATE TABLE campaign_variant_stats (
    variant_id    uuid PRIMARY KEY REFERENCES campaign_variants (id) ON DELETE CASCADE,
    campaign_id   uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    workspace_id  uuid NOT NULL,
    sends         bigint NOT NULL DEFAULT 0,
    delivered     bigint NOT NULL DEFAULT 0,
    opened        bigint NOT NULL DEFAULT 0,
    clicked       bigint NOT NULL DEFAULT 0,
    replied       bigint NOT NULL DEFAULT 0,
    converted     bigint NOT NULL DEFAULT 0,
    bounced       bigint NOT NULL DEFAULT 0,
    unsubscribed  bigint NOT NULL DEFAULT 0,
    spend_micros  bigint NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX campaign_variant_stats_campaign ON campaign_variant_stats (campaign_id);
-- the summary refresh finds the campaigns whose counters changed
CREATE INDEX campaign_variant_stats_updated ON campaign_variant_stats (updated_at);

-- An outcome counts once per send: a second click on the same message is
-- not a second success. (Outcomes without a send id count every time.)
CREATE TABLE campaign_send_outcomes (
    send_id      uuid NOT NULL,
    kind         text NOT NULL,
    campaign_id  uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (send_id, kind)
);

-- Spend per campaign and (UTC) day, for pacing against the daily budget.
CREATE TABLE campaign_daily_spend (
    campaign_id   uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    day           date NOT NULL,
    spend_micros  bigint NOT NULL DEFAULT 0,
    sends         bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, day)
);

-- The optimizer's work list: a campaign with interactions counted since
-- its last published allocation, or held back by pacing, is revisited.
CREATE TABLE campaign_optimizer_state (
    campaign_id        uuid PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
    workspace_id       uuid NOT NULL,
    pending_interactions bigint NOT NULL DEFAULT 0,
    pacing_hold        boolean NOT NULL DEFAULT false,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX campaign_optimizer_state_work ON campaign_optimizer_state (updated_at)
    WHERE pending_interactions > 0 OR pacing_hold;

-- Per-variant performance, refreshed CONCURRENTLY on a cadence by the
-- service (the unique index makes concurrent refresh possible).
CREATE MATERIALIZED VIEW campaign_performance_summary AS
SELECT v.id            AS variant_id,
       v.campaign_id,
       v.workspace_id,
       v.name          AS variant_name,
       v.position,
       c.objective,
       COALESCE(s.sends, 0)        AS sends,
       CASE c.objective
           WHEN 'click' THEN COALESCE(s.clicked, 0)
           WHEN 'reply' THEN COALESCE(s.replied, 0)
           ELSE COALESCE(s.converted, 0)
       END                          AS outcomes,
       COALESCE(s.spend_micros, 0) AS spend_micros,
       now()                        AS refreshed_at
FROM campaign_variants v
JOIN campaigns c ON c.id = v.campaign_id
LEFT JOIN campaign_variant_stats s ON s.variant_id = v.id;
CREATE UNIQUE INDEX campaign_performance_summary_variant
    ON campaign_performance_summary (variant_id);
CREATE INDEX campaign_performance_summary_campaign
    ON campaign_performance_summary (workspace_id, campaign_id);
