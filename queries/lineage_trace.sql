-- Question: what became of one source row? Every augmented variant of it, with the
-- scheme, copy, seed and parameters that produced it.
-- Run:      lakeaug query OUT --file queries/lineage_trace.sql
-- As shipped it traces the first source row present in the output; to trace a given
-- row replace the `target` query with literal values, e.g.
--     target AS (SELECT 'data/photos.parquet' AS source_file, 7 AS source_row)
WITH target AS (
    SELECT source_file, source_row
    FROM augmented
    ORDER BY source_file, source_row
    LIMIT 1
)
SELECT
    a.source_file,
    a.source_row,
    a.scheme,
    a.aug_copy,
    a.aug_seed,
    a.aug_hflip,
    a.aug_brightness,
    a.aug_contrast,
    a.aug_jitter_order,
    a.aug_rotate_deg,
    a.aug_erase_x,
    a.aug_erase_y,
    a.aug_erase_size,
    a.aug_words_replaced,
    a.aug_words_deleted,
    a.caption,
    a.run_id
FROM augmented a
JOIN target t ON a.source_file = t.source_file AND a.source_row = t.source_row
ORDER BY a.run_id, a.scheme, a.aug_copy;
