-- Question: per scheme, how were the sampled augmentation parameters distributed?
-- (flip rate; mean/min/max of brightness, contrast and rotation; erase patch size;
-- then a histogram of rotation angles in 5-degree buckets.)
-- Run:      lakeaug query OUT --file queries/parameter_distribution.sql
-- Parameters a scheme does not sample are NULL and ignored by the aggregates.
SELECT
    scheme,
    count(*)                                                        AS rows,
    round(avg(CASE WHEN aug_hflip THEN 1.0 WHEN NOT aug_hflip THEN 0.0 END), 4) AS flip_rate,
    round(avg(aug_brightness), 4)  AS brightness_mean,
    round(min(aug_brightness), 4)  AS brightness_min,
    round(max(aug_brightness), 4)  AS brightness_max,
    round(avg(aug_contrast), 4)    AS contrast_mean,
    round(min(aug_contrast), 4)    AS contrast_min,
    round(max(aug_contrast), 4)    AS contrast_max,
    round(avg(aug_rotate_deg), 3)  AS rotate_mean,
    round(min(aug_rotate_deg), 3)  AS rotate_min,
    round(max(aug_rotate_deg), 3)  AS rotate_max,
    round(avg(aug_erase_size), 2)  AS erase_size_mean
FROM augmented
GROUP BY scheme
ORDER BY scheme;

-- Rotation histogram: bucket_start is the lower edge of a 5-degree bucket
-- ([-15, -10), [-10, -5), ... [10, 15]); 15 itself falls into the last bucket.
SELECT
    scheme,
    CAST(least(floor(aug_rotate_deg / 5.0) * 5, 10) AS INT) AS bucket_start,
    count(*)                                               AS rows
FROM augmented
WHERE aug_rotate_deg IS NOT NULL
GROUP BY scheme, 2
ORDER BY scheme, bucket_start;
