-- Question: how have runs gone over time? Start, duration, rows in/out/rejected and
-- throughput per run, oldest first.
-- Run:      lakeaug query OUT --file queries/run_history.sql
SELECT
    run_id,
    started_at,
    finished_at,
    round(duration_secs, 2)   AS duration_secs,
    rows_read,
    rows_written,
    rows_rejected,
    round(rows_per_sec, 1)    AS rows_per_sec,
    threads,
    seed,
    config_hash,
    lakeaug_version
FROM runs
ORDER BY started_at, run_id;
