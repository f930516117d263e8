-- Question: how long are the tokenized captions per scheme, and how many were
-- truncated? token_count() counts ids other than [PAD] (0), so padding to the longest
-- caption of a batch does not inflate lengths.
-- Run:      lakeaug query OUT --file queries/token_lengths.sql
SELECT
    scheme,
    count(*)                                                           AS rows,
    round(avg(token_count(input_ids)), 2)                              AS mean_tokens,
    min(token_count(input_ids))                                        AS min_tokens,
    max(token_count(input_ids))                                        AS max_tokens,
    round(avg(CASE WHEN input_ids_truncated THEN 1.0 ELSE 0.0 END), 4) AS share_truncated
FROM augmented
WHERE input_ids IS NOT NULL
GROUP BY scheme
ORDER BY scheme;

-- Histogram: bucket_start is the lower edge of an 8-token bucket.
SELECT
    scheme,
    CAST(floor(token_count(input_ids) / 8.0) * 8 AS INT) AS bucket_start,
    count(*)                                            AS rows
FROM augmented
WHERE input_ids IS NOT NULL
GROUP BY scheme, 2
ORDER BY scheme, bucket_start;
