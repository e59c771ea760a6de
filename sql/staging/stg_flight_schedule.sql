-- staging.stg_flight_schedule
-- Grain: one scheduled flight. Key: (flight_date, carrier, flight_number, origin).
-- Only what an airline publishes before the day: no actual times or delays, so anything built on
-- this view for day D cannot see how day D went. The labelled schedule without its labels.
with

labelled as (
    select * from staging.stg_flight_labelled_schedule
),

final as (
    select * exclude (label_arr_delay_minutes, label_is_delayed) from labelled
)

select * from final
