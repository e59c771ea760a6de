-- features.route_hour_daily: each flight day of [$first, $end) counted per carrier, route and hour.
-- Grain: one carrier, origin, dest and scheduled hour of one flight day. Key: (flight_date,
-- carrier, origin, dest, sched_dep_hour).
--
-- The trailing carrier, origin, route and hour rates of sql/features/flight_features.sql are sums
-- of these days (the 1, 7 and 28 before a feature day), so a feature day reads 28 small tables
-- instead of 28 days of flights. Only flights whose outcome is known count, as in the features.
-- Delays are whole minutes, so a sum of daily sums equals the sum of the flights.
with

outcomes as (
    select * from staging.stg_flight_outcomes
    where flight_date >= $first and flight_date < $end and is_delayed is not null
),

final as (
    select
        flight_date,
        carrier,
        origin,
        dest,
        sched_dep_hour,
        count(*) as flights,
        count(*) filter (where is_delayed) as delayed,
        sum(dep_delay_minutes) as dep_delay_sum,
        count(dep_delay_minutes) as dep_delay_count
    from outcomes
    group by flight_date, carrier, origin, dest, sched_dep_hour
)

select * from final
