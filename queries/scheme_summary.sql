-- Question: how many rows did each scheme write and reject in each run, and what is
-- the reject rate?
-- Run:      lakeaug query OUT --file queries/scheme_summary.sql
-- Rows come from the data itself (augmented, rejects), not from the manifests, so the
-- answer is right even for a run whose manifest is missing.
WITH written AS (
    SELECT run_id, scheme, count(*) AS rows_written
    FROM augmented
    GROUP BY run_id, scheme
),
rejected AS (
    SELECT run_id, scheme, count(*) AS rows_rejected
    FROM rejects
    GROUP BY run_id, scheme
)
SELECT
    coalesce(w.run_id, r.run_id)                       AS run_id,
    coalesce(w.scheme, r.scheme)                       AS scheme,
    coalesce(w.rows_written, 0)                        AS rows_written,
    coalesce(r.rows_rejected, 0)                       AS rows_rejected,
    round(CAST(coalesce(r.rows_rejected, 0) AS DOUBLE)
          / (coalesce(w.rows_written, 0) + coalesce(r.rows_rejected, 0)), 4) AS reject_rate
FROM written w
FULL OUTER JOIN rejected r ON w.run_id = r.run_id AND w.scheme = r.scheme
ORDER BY run_id, scheme;
