-- Engagement's own copies of the data it needs from the other services,
-- kept from their compacted topics (docs/events.md): each lead's contact
-- data (lead.contact.v1 on leads.contacts, from lead-triage) and each
-- campaign's definition (campaign.definition.v1 on campaigns.definitions,
-- from campaign-optimization). Engagement reads only these, never the
-- owners' tables. A copy changes only for a newer record (later
-- updated_at, higher version): a redelivered or older one changes nothing.

CREATE TABLE engagement_leads (
    id             uuid PRIMARY KEY,
    workspace_id   uuid NOT NULL,
    email          text NOT NULL,
    phone          text,
    name           text,
    company        text,
    title          text,
    industry       text,
    country        text,
    timezone       text,
    consent        jsonb NOT NULL DEFAULT '{}'::jsonb,
    correlation_id text NOT NULL,
    updated_at     timestamptz NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE engagement_campaigns (
    id                  uuid PRIMARY KEY,
    workspace_id        uuid NOT NULL,
    version             integer NOT NULL,
    status              text NOT NULL CHECK (status IN ('active', 'paused', 'archived')),
    target_categories   text[] NOT NULL,
    ladder              jsonb NOT NULL,
    daily_budget_micros bigint NOT NULL,
    channel_costs       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at          timestamptz NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now()
);
-- the active campaigns of a workspace that target a category
CREATE INDEX engagement_campaigns_targets ON engagement_campaigns (workspace_id)
    WHERE status = 'active';

CREATE TABLE engagement_variants (
    id           uuid PRIMARY KEY,
    campaign_id  uuid NOT NULL REFERENCES engagement_campaigns (id) ON DELETE CASCADE,
    position     smallint NOT NULL,
    content      jsonb NOT NULL
);
CREATE INDEX engagement_variants_campaign ON engagement_variants (campaign_id, position);

-- The best variant's posterior mean, as the latest allocation announced it:
-- several active campaigns targeting one category plan under the highest.
ALTER TABLE engagement_allocations
    ADD COLUMN performance_score double precision NOT NULL DEFAULT 0;

-- The copies start from what the owners hold when this runs (one database
-- today); from here on they follow the topics.
INSERT INTO engagement_leads (id, workspace_id, email, phone, name, company, title, industry,
                              country, timezone, consent, correlation_id, updated_at)
SELECT id, workspace_id, email, phone, name, company, title, industry, country, timezone,
       consent, correlation_id, updated_at
FROM leads;

INSERT INTO engagement_campaigns (id, workspace_id, version, status, target_categories, ladder,
                                  daily_budget_micros, channel_costs, created_at)
SELECT id, workspace_id, version, status, target_categories, ladder, daily_budget_micros,
       channel_costs, created_at
FROM campaigns;

INSERT INTO engagement_variants (id, campaign_id, position, content)
SELECT id, campaign_id, position, content FROM campaign_variants;

UPDATE engagement_allocations a SET performance_score = c.performance_score
FROM campaigns c WHERE c.id = a.campaign_id;
