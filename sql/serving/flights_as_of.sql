-- raw.flights as the lake stood on the evening before $day, for scoring the flights of $day.
-- Grain: one flight (key dt, carrier, flight, origin), for dt in [$first, $before] and $day.
--
-- The contract: scoring re-points `raw.flights` at this relation in its private connection, then
-- runs sql/features/flight_features.sql unchanged (the staging views read raw.flights by name).
-- Actual flights up to $before (the evening before) and the published schedule of $day, which
-- has the planned columns only: no outcome of $day exists here, so no feature can leak and a
-- backfill sees exactly what the nightly run saw. $first is $day minus the longest trailing window.
select * from raw.flights
where dt between $first and $before
union all by name
select * from raw.schedule
where dt = $day
