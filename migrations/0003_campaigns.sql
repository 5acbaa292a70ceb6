-- Campaigns (owned by campaign-optimization, read by engagement): the
-- campaign, its variants and the latest allocation of its traffic.
--
-- Money is in micros (1/1,000,000 of the workspace currency) as bigint.

CREATE TABLE campaigns (
    id                  uuid PRIMARY KEY,
    workspace_id        uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name                text NOT NULL,
    status              text NOT NULL DEFAULT 'active'
                        CHECK (status IN ('active', 'paused', 'archived')),
    -- why a paused campaign is paused: 'manual' or 'budget'
    pause_reason        text CHECK (pause_reason IN ('manual', 'budget')),
    target_categories   text[] NOT NULL,
    -- the channel ladder: [{"channel": "email", "delay_secs": 0}, ...]
    ladder              jsonb NOT NULL,
    objective           text NOT NULL CHECK (objective IN ('click', 'reply', 'conversion')),
    daily_budget_micros bigint NOT NULL CHECK (daily_budget_micros >= 0),
    -- cost of one send per channel: {"email": 1000, "sms": 20000, "phone": 150000}
    channel_costs       jsonb NOT NULL DEFAULT '{}'::jsonb,
    min_share           double precision NOT NULL DEFAULT 0
                        CHECK (min_share >= 0 AND min_share <= 1),
    -- sends per variant before the allocation adapts (uniform until then)
    warmup_sends        integer NOT NULL DEFAULT 0 CHECK (warmup_sends >= 0),
    -- how far spend may run ahead of the linear daily pace, in basis
    -- points of the daily budget (10000: no pacing, only the daily cap)
    pacing_burst_bps    integer NOT NULL DEFAULT 1000
                        CHECK (pacing_burst_bps >= 0 AND pacing_burst_bps <= 10000),
    -- the best variant's posterior mean; kept for the seeds' index
    performance_score   double precision NOT NULL DEFAULT 0,
    version             integer NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX campaigns_status_performance ON campaigns (status, performance_score DESC);
CREATE INDEX campaigns_workspace_page ON campaigns (workspace_id, created_at DESC, id DESC);
-- engagement: the active campaigns of a workspace that target a category
CREATE INDEX campaigns_active_targets ON campaigns USING gin (target_categories)
    WHERE status = 'active';

CREATE TABLE campaign_variants (
    id           uuid PRIMARY KEY,
    campaign_id  uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    workspace_id uuid NOT NULL,
    name         text NOT NULL,
    position     smallint NOT NULL,
    -- content per channel: {"email": {"subject": "...", "body": "..."},
    --                       "sms": {"body": "..."}, "phone": {"body": "..."}}
    -- bodies and subjects are minijinja templates over the lead's fields
    content      jsonb NOT NULL,
    UNIQUE (campaign_id, name),
    UNIQUE (campaign_id, position)
);

-- The latest allocation per campaign, as published on campaigns.allocations.
CREATE TABLE campaign_allocations (
    campaign_id  uuid PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
    workspace_id uuid NOT NULL,
    sequence     bigint NOT NULL,
    -- the campaign status the allocation announced ('active' or 'paused'
    -- while pacing holds sends back although the campaign is active)
    status       text NOT NULL DEFAULT 'active'
                 CHECK (status IN ('active', 'paused', 'archived')),
    -- [{"variant_id": "...", "share": 0.5}, ...]
    shares       jsonb NOT NULL,
    reason       text NOT NULL,
    computed_at  timestamptz NOT NULL DEFAULT now()
);
