-- staging.stg_flight_outcomes
-- Grain: one operated (or cancelled) flight. Key: (flight_date, carrier, flight_number, origin).
-- What happened to the flight: known only after its day ends.
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
        hour as sched_dep_hour,
        dep_delay as dep_delay_minutes,
        arr_delay as arr_delay_minutes,
        dep_time is null as is_cancelled,
        -- The label (the macro is_delayed): more than 15 minutes late at arrival.
        is_delayed(arr_delay) as is_delayed
    from source
)

select * from final
