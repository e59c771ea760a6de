-- staging.stg_flight_labelled_schedule
-- Grain: one scheduled flight. Key: (flight_date, carrier, flight_number, origin).
-- The schedule as an airline publishes it before the day (staging.stg_flight_schedule is this
-- view without its labels) and, from the same row of raw.flights, the flight's own outcome as
-- label_* columns: what the model learns to predict, null until the day has been flown (and for
-- a cancelled or diverted flight). sql/features/flight_features.sql builds every feature from
-- the schedule columns and passes label_* through as the labels: read from the same row, a
-- label costs nothing, where a lookup by key held a day of outcomes in a hash table.
with

source as (
    select * from raw.flights
),

final as (
    select
        dt as flight_date,
        carrier,
        flight as flight_number,
        origin,
        dest,
        tailnum,
        sched_dep_time,
        sched_arr_time,
        hour as sched_dep_hour,
        hour * 60 + minute as sched_dep_minute_of_day,
        distance as distance_miles,
        -- Scheduled departure hour in UTC: the key to the hourly weather.
        time_hour as sched_dep_hour_utc,
        arr_delay as label_arr_delay_minutes,
        is_delayed(arr_delay) as label_is_delayed
    from source
)

select * from final
