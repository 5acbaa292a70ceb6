-- AI personalisation (docs/personalisation.md): a `sent` interaction may
-- carry generation_cost_micros, what writing its message with a language
-- model cost. campaign-optimization charges it to the campaign's day and to
-- the variant's spend_micros like the send's channel cost (so it counts
-- against the daily budget), and keeps that part apart here so that the
-- performance report can show what generation cost. Counts from before this
-- column start at 0. A NOT NULL column with a constant default rewrites
-- nothing.
ALTER TABLE campaign_variant_stats
    ADD COLUMN generation_spend_micros bigint NOT NULL DEFAULT 0;

-- The performance report reads the summary, not the counters: it gets the
-- column too. A materialized view cannot gain a column, so it is made again
-- as in 0005 with the column added (readers wait for this transaction; the
-- service's next refresh brings it up to date anyway).
DROP MATERIALIZED VIEW campaign_performance_summary;
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
       COALESCE(s.generation_spend_micros, 0) AS generation_spend_micros,
       now()                        AS refreshed_at
FROM campaign_variants v
JOIN campaigns c ON c.id = v.campaign_id
LEFT JOIN campaign_variant_stats s ON s.variant_id = v.id;
CREATE UNIQUE INDEX campaign_performance_summary_variant
    ON campaign_performance_summary (variant_id);
CREATE INDEX campaign_performance_summary_campaign
    ON campaign_performance_summary (workspace_id, campaign_id);
