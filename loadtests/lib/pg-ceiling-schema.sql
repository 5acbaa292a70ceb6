-- Table of the batched-insert reference ceiling (loadtests/lib/common, lt_ceilings): shaped like a
-- lead row (a uuid key, workspace, email, JSON attributes, timestamps, a unique email per
-- workspace), in its own database so the suite's data is untouched.
SET client_min_messages = warning;
CREATE TABLE IF NOT EXISTS ref_leads (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL,
    email        text NOT NULL,
    attributes   jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, email)
);
TRUNCATE ref_leads;
