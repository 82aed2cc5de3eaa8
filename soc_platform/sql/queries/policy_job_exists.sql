-- TimescaleDB: is there a background job of this kind on this relation? Continuous
-- aggregate jobs name the view (2.20+) or its materialization hypertable (before).
SELECT EXISTS (
    SELECT 1
    FROM timescaledb_information.jobs AS j
    WHERE j.proc_name = %(proc)s
      AND (j.hypertable_name = %(relation)s
           OR j.hypertable_name IN (
               SELECT materialization_hypertable_name
               FROM timescaledb_information.continuous_aggregates
               WHERE view_name = %(relation)s))
)
