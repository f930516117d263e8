-- Question: per scheme, how often did the image-text consistency rules act? Flipped images
-- and the captions whose left/right words were mirrored with them (and how many words);
-- flips left out because the caption has spatial words (hflip captions = "skip"); hue
-- shifts left out because the caption names a colour; synonyms put in; blurred or erased
-- images and the hedge phrases added for them; MixGen blends and their mean weight.
-- The last column is a check that should read 0: hedged captions whose image was neither
-- blurred nor erased.
-- Run:      lakeaug query OUT --file queries/consistency.sql
-- Columns of ops a scheme does not have are NULL in its rows and count as 0 here.
SELECT
    scheme,
    count(*)                                                                 AS rows,
    count(*) FILTER (WHERE aug_hflip)                                        AS flipped,
    count(*) FILTER (WHERE cardinality(aug_hflip_caption_swaps) > 0)         AS captions_mirrored,
    coalesce(sum(cardinality(aug_hflip_caption_swaps)), 0)                   AS words_mirrored,
    count(*) FILTER (WHERE aug_hflip_skipped)                                AS flips_skipped,
    count(*) FILTER (WHERE aug_hue IS NOT NULL)                              AS hue_shifted,
    count(*) FILTER (WHERE aug_hue_skipped)                                  AS hue_skipped,
    coalesce(sum(cardinality(aug_synonym_words)), 0)                         AS synonyms,
    count(*) FILTER (WHERE aug_blur_sigma IS NOT NULL)                       AS blurred,
    count(*) FILTER (WHERE aug_erase_size IS NOT NULL)                       AS erased,
    count(*) FILTER (WHERE aug_hedge IS NOT NULL)                            AS hedged,
    count(*) FILTER (WHERE aug_mix_partner_row IS NOT NULL)                  AS mixed,
    round(avg(aug_mix_lambda), 4)                                            AS mix_lambda_mean,
    count(*) FILTER (WHERE aug_hedge IS NOT NULL
                       AND aug_blur_sigma IS NULL AND aug_erase_size IS NULL) AS hedged_without_cause
FROM augmented
GROUP BY scheme
ORDER BY scheme;
