-- features.flight_number_28d of feature day $day, from that of the day before ($day - 1).
-- Grain and key as sql/features/flight_number_28d.sql: one carrier and flight number.
--
-- The window moves a day: the flights of $day - 1 come in, those of $day - 29 go out. Counts are
-- integers, so the step gives exactly what the 28 days counted afresh give (a test compares
-- them). `trailing_day_before` is the day before's partition, read by pipelines/trailing.py only
-- when the raw days it was counted from are still the lake's. A flight number whose window
-- empties drops out, as one never seen.
with

day_before as (
    select
        carrier,
        flight_number,
        flights_28d,
        delayed_28d
    from trailing_day_before
),

moved as (
    select
        carrier,
        flight_number,
        case when flight_date = cast($day as date) - 1 then 1 else -1 end as flights_28d,
        case
            when not is_delayed then 0
            when flight_date = cast($day as date) - 1 then 1
            else -1
        end as delayed_28d
    from staging.stg_flight_outcomes
    where
        (
            flight_date = cast($day as date) - 1
            or flight_date = cast($day as date) - 29
        )
        and is_delayed is not null
),

final as (
    select
        cast($day as date) as feature_date,
        carrier,
        flight_number,
        cast(sum(flights_28d) as bigint) as flights_28d,
        cast(sum(delayed_28d) as bigint) as delayed_28d
    from (
        select * from day_before
        union all
        select * from moved
    ) as counts
    group by carrier, flight_number
    having sum(flights_28d) > 0
)

select * from final
