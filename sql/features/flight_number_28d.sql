-- features.flight_number_28d, for every feature day of [$start, $end), from the flights.
-- Grain: one carrier and flight number with a known outcome in the 28 days before a feature day.
-- Key: (feature_date, carrier, flight_number).
--
-- The flights of the 28 days before each feature day F ([F - 28, F - 1]) whose outcome is known,
-- counted, and those more than 15 minutes late. Set-based: each past flight is counted once per
-- feature day whose window holds it (one copy for a single day, at most 28 for a long interval).
-- pipelines/trailing.py keeps one day's counts in the lake and moves them a day at a time
-- (sql/features/flight_number_step.sql); this query is how a run of days, or a day with no usable
-- day before, gets them.
with

past as (
    select
        flight_date,
        carrier,
        flight_number,
        is_delayed
    from staging.stg_flight_outcomes
    where
        flight_date >= cast($start as date) - 28
        and flight_date < cast($end as date) - 1
        and is_delayed is not null
),

-- Each past flight with the feature days that look back on it (feature_date - flight_date in
-- 1..28). A single day takes the first branch: one copy, without a list built and unnested per
-- past flight.
dated as (
    select
        cast($start as date) as feature_date,
        carrier,
        flight_number,
        is_delayed
    from past
    where cast($end as date) - cast($start as date) = 1
    union all
    select
        flight_date + cast(unnest(range(
            greatest(1, cast($start as date) - flight_date),
            least(28, cast($end as date) - 1 - flight_date) + 1
        )) as integer) as feature_date,
        carrier,
        flight_number,
        is_delayed
    from past
    where cast($end as date) - cast($start as date) > 1
),

final as (
    select
        feature_date,
        carrier,
        flight_number,
        count(*) as flights_28d,
        count(*) filter (where is_delayed) as delayed_28d
    from dated
    group by feature_date, carrier, flight_number
)

select * from final
