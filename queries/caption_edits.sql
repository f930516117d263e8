-- Question: per scheme, how much did augmentation change the captions? Share of
-- captions changed, mean words replaced/deleted (from the recorded word indices),
-- and the mean/max word-level edit distance between source and augmented caption.
-- Run:      lakeaug query OUT --source INPUT --file queries/caption_edits.sql
--           (INPUT written exactly as given to `lakeaug run --input`)
SELECT
    a.scheme,
    count(*)                                                                  AS rows,
    round(avg(CASE WHEN a.caption IS DISTINCT FROM s.caption THEN 1.0 ELSE 0.0 END), 4)
                                                                              AS share_changed,
    round(avg(CAST(coalesce(cardinality(a.aug_words_replaced), 0) AS DOUBLE)), 4) AS mean_words_replaced,
    round(avg(CAST(coalesce(cardinality(a.aug_words_deleted), 0) AS DOUBLE)), 4)  AS mean_words_deleted,
    round(avg(word_edit_distance(s.caption, a.caption)), 4)                   AS mean_edit_distance,
    max(word_edit_distance(s.caption, a.caption))                             AS max_edit_distance,
    round(avg(word_count(s.caption)), 2)                                      AS mean_source_words,
    round(avg(word_count(a.caption)), 2)                                      AS mean_augmented_words
FROM augmented a
JOIN source s
  ON a.source_file = s.source_file AND a.source_row = s.source_row
GROUP BY a.scheme
ORDER BY a.scheme;
