-- AI personalisation (docs/personalisation.md): a variant may ask a
-- language model to write a step's message. Engagement's composer writes
-- it ahead of the send and keeps it here, one row per step; the send path
-- reads the row and never calls the model.
--
-- state:
--   wanted     the send path found the step due without its text (requested_at)
--   composing  a composer holds it until lease_until (then any may take it over)
--   done       body holds the text, checked against the guardrails
--   fallback   the variant's template is sent; fallback_reason says why
CREATE TABLE step_generations (
    step_id         uuid PRIMARY KEY REFERENCES scheduled_steps (id) ON DELETE CASCADE,
    state           text NOT NULL CHECK (state IN ('wanted', 'composing', 'done', 'fallback')),
    lease_until     timestamptz,
    requested_at    timestamptz,
    attempts        integer NOT NULL DEFAULT 0,
    model           text,
    prompt_version  text,
    body            text,
    tokens_in       integer NOT NULL DEFAULT 0,
    tokens_out      integer NOT NULL DEFAULT 0,
    latency_ms      integer NOT NULL DEFAULT 0,
    cache_hit       boolean NOT NULL DEFAULT false,
    -- the response-cache entry the text came from or went to (removed with the lead)
    cache_key       text,
    cost_micros     bigint NOT NULL DEFAULT 0,
    fallback_reason text CHECK (fallback_reason IN ('provider_error', 'timeout', 'rate_limited',
                        'budget', 'guardrail', 'breaker_open', 'prompt_error', 'not_ready')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- the generations a composer may take over (wanted, or an expired lease)
CREATE INDEX step_generations_open_idx ON step_generations (lease_until)
    WHERE state IN ('wanted', 'composing');

-- The prompt's inputs besides the lead's fields: the score and its
-- breakdown, as the triage that planned the lead gave them. Null for plans
-- stored before these columns. Nullable columns without a default rewrite
-- nothing.
ALTER TABLE outreach_plans ADD COLUMN score smallint, ADD COLUMN breakdown jsonb;
