-- One lead, one trace: a plan keeps the W3C trace context of the triage
-- record it was planned from, so its steps (sent minutes or days later, by
-- any instance) and the interactions reported about them continue the
-- lead's trace instead of starting their own. Null for plans stored before
-- this column, and for plans whose record carried no trace context.
-- Adding a nullable column without a default rewrites nothing.
ALTER TABLE outreach_plans ADD COLUMN traceparent text;
