-- pgbench custom script of the batched-insert reference ceiling: one transaction of 100 lead-shaped
-- rows (the suite's batch path writes leads in batches). Unique emails per client and transaction.
INSERT INTO ref_leads (workspace_id, email, attributes)
SELECT '00000000-0000-7000-8000-000000000001',
       'ref' || :client_id || 'x' || txid_current() || 'x' || g || '@initech.com',
       jsonb_build_object('title', 'CTO', 'company_size', 1 + (random() * 20000)::int,
                          'industry', 'software', 'country', 'US', 'source', 'webinar')
FROM generate_series(1, 100) AS g;
