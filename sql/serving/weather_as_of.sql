-- raw.weather as known on the evening before as_of_day, the day being scored.
-- Grain: one observation or forecast hour (key origin, time_hour).
--
-- The contract (as for flights_as_of.sql): scoring renames the lake's `raw.weather` view to
-- `raw.weather_published` and points `raw.weather` at this relation in its private connection
-- before running the feature SQL. Observed weather up to as_of_before, and the weather forecast
-- published for as_of_day in place of the observations that do not exist yet.
select * from raw.weather_published
where dt between getvariable('as_of_first') and getvariable('as_of_before')
union all by name
select * from raw.weather_forecast
where dt = getvariable('as_of_day')
