-- raw.weather as known on the evening before $day, for scoring the flights of $day.
-- Grain: one observation or forecast hour (key origin, time_hour).
--
-- The contract (as for flights_as_of.sql): scoring re-points `raw.weather` at this relation in its
-- private connection before running the feature SQL. Observed weather up to $before, and the
-- weather forecast published for $day in place of the observations that do not exist yet.
select * from raw.weather
where dt between $first and $before
union all by name
select * from raw.weather_forecast
where dt = $day
