-- Question: why were rows rejected? Count per scheme, stage and reason, its share of
-- all rejects, and one example source row to look at.
-- Run:      lakeaug query OUT --file queries/rejects_by_reason.sql
SELECT
    scheme,
    stage,
    reason,
    count(*)                                                       AS rejects,
    round(CAST(count(*) AS DOUBLE) / sum(count(*)) OVER (), 4)     AS share_of_rejects,
    min(source_file || ':' || CAST(source_row AS VARCHAR))         AS example
FROM rejects
GROUP BY scheme, stage, reason
ORDER BY rejects DESC, scheme, stage, reason;
