-- raw.flights as the lake stood on the evening before as_of_day, the day being scored.
-- Grain: one flight (key dt, carrier, flight, origin), for dt in [as_of_first, as_of_before] and
-- as_of_day (DuckDB variables the scoring connection sets, bound from dates).
--
-- The contract: scoring renames the lake's `raw.flights` view to `raw.flights_published`, points
-- `raw.flights` at this relation in its private connection, then runs
-- sql/features/flight_features.sql unchanged (the staging views read raw.flights by name). A view,
-- not a copy: the 28 days of history stay in their Parquet files. Actual flights up to the evening
-- before and the published schedule of the day, which has the planned columns only: no outcome of
-- the day exists here, so no feature can leak and a backfill sees exactly what the nightly run
-- saw. as_of_first is the day minus the longest trailing window.
select * from raw.flights_published
where dt between getvariable('as_of_first') and getvariable('as_of_before')
union all by name
select * from raw.schedule
where dt = getvariable('as_of_day')
