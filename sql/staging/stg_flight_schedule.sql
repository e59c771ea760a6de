-- staging.stg_flight_schedule
-- Grain: one scheduled flight. Key: (flight_date, carrier, flight_number, origin).
-- Only what an airline publishes before the day: no actual times or delays, so anything built on
-- this view for day D cannot see how day D went.
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
        time_hour as sched_dep_hour_utc
    from source
)

select * from final
