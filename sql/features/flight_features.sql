-- features.flight_features, for one day: $feature_date
-- Grain: one scheduled flight of $feature_date. Key: (flight_date, carrier, flight_number, origin).
--
-- Leak-free by construction: every feature reads either the published schedule of the day
-- (staging.stg_flight_schedule) or outcomes of days strictly before it (staging.stg_flight_outcomes
-- with flight_date < $feature_date). Two documented exceptions:
--   * label_* columns: the outcome of the flight itself (what the model learns to predict);
--   * wx_* columns: the observed weather at the scheduled hour (and the hours before it, and the
--     day's totals), a stand-in for the forecast an airline would have the evening before.
--     Observed weather is better than any forecast, so offline metrics are optimistic on
--     weather-driven days.
-- Delay rates are smoothed toward the trailing 28-day rate of all flights, with the weight of
-- 20 flights (the `prior` CTE; the macro smoothed_rate in sql/macros), so a route seen twice does
-- not get a rate of 0% or 100%.
with

schedule as (
    select * from staging.stg_flight_schedule
    where flight_date = $feature_date
),

outcomes as (
    select * from staging.stg_flight_outcomes
    where flight_date = $feature_date
),

history as (
    select
        *,
        cast($feature_date as date) - flight_date as days_before
    from staging.stg_flight_outcomes
    where
        flight_date >= cast($feature_date as date) - 28
        and flight_date < $feature_date
        and is_delayed is not null
),

weather as (
    select
        *,
        -- Precipitation of the scheduled hour and the three before it (any day boundary).
        sum(precip_in) over (
            partition by origin order by observed_hour_utc
            range between interval 3 hours preceding and current row
        ) as precip_4h_in
    from staging.stg_weather
    where observed_date between cast($feature_date as date) - 1 and cast($feature_date as date) + 1
),

-- The day's weather at each origin: the stand-in for the daily forecast known the evening before.
weather_day as (
    select
        origin,
        sum(precip_in) as precip_in,
        count(*) filter (where precip_in > 0) as precip_hours,
        min(visibility_mi) as min_visibility_mi,
        max(wind_speed_mph) as max_wind_speed_mph
    from weather
    where observed_date = $feature_date
    group by origin
),

planes as (
    select * from staging.stg_planes
    where snapshot_date = (
        select max(earlier.snapshot_date) from staging.stg_planes as earlier
        where earlier.snapshot_date <= $feature_date
    )
),

prior as (
    select
        coalesce(avg(is_delayed::double), 0.2) as rate,
        20.0 as weight
    from history
),

carrier_rates as (
    select
        carrier,
        count(*) filter (where days_before <= 7) as n_7d,
        count(*) filter (where is_delayed and days_before <= 7) as delayed_7d,
        count(*) as n_28d,
        count(*) filter (where is_delayed) as delayed_28d,
        avg(dep_delay_minutes) filter (where days_before <= 7) as mean_dep_delay_7d
    from history
    group by carrier
),

origin_rates as (
    select
        origin,
        count(*) filter (where days_before = 1) as n_1d,
        count(*) filter (where is_delayed and days_before = 1) as delayed_1d,
        count(*) filter (where days_before <= 7) as n_7d,
        count(*) filter (where is_delayed and days_before <= 7) as delayed_7d,
        avg(dep_delay_minutes) filter (where days_before = 1) as mean_dep_delay_1d
    from history
    group by origin
),

origin_hour_rates as (
    select
        origin,
        sched_dep_hour,
        count(*) as n_28d,
        count(*) filter (where is_delayed) as delayed_28d
    from history
    group by origin, sched_dep_hour
),

dest_rates as (
    select
        dest,
        count(*) as n_28d,
        count(*) filter (where is_delayed) as delayed_28d
    from history
    group by dest
),

route_rates as (
    select
        origin,
        dest,
        count(*) as n_28d,
        count(*) filter (where is_delayed) as delayed_28d
    from history
    group by origin, dest
),

flight_number_rates as (
    select
        carrier,
        flight_number,
        count(*) as n_28d,
        count(*) filter (where is_delayed) as delayed_28d
    from history
    group by carrier, flight_number
),

final as (
    select
        s.flight_date,
        s.carrier,
        s.flight_number,
        s.origin,
        s.dest,
        s.tailnum,
        s.sched_dep_hour_utc,

        -- Schedule attributes
        s.sched_dep_hour,
        s.sched_dep_minute_of_day,
        isodow(s.flight_date) as weekday,
        month(s.flight_date) as month,
        dayofyear(s.flight_date) as day_of_year,
        s.distance_miles,
        -- Scheduled block time in minutes, both ends in local clock time (wraps past midnight).
        (
            (s.sched_arr_time // 100 * 60 + s.sched_arr_time % 100)
            - s.sched_dep_minute_of_day + 1440
        ) % 1440 as sched_block_minutes,
        count(*) over (partition by s.origin, s.sched_dep_hour) as origin_departures_same_hour,
        count(*) over (partition by s.origin) as origin_departures_day,
        -- The aircraft's n-th scheduled departure from NYC that day (delays accumulate by leg).
        case when s.tailnum is not null then row_number() over (
            partition by s.tailnum
            order by s.sched_dep_minute_of_day, s.carrier, s.flight_number
        ) end as tail_leg_of_day,

        -- Trailing delay rates (days before the flight's day only), smoothed toward the prior
        smoothed_rate(c.delayed_7d, c.n_7d, p.rate, p.weight) as carrier_delay_rate_7d,
        smoothed_rate(c.delayed_28d, c.n_28d, p.rate, p.weight) as carrier_delay_rate_28d,
        c.mean_dep_delay_7d as carrier_mean_dep_delay_7d,
        smoothed_rate(o.delayed_1d, o.n_1d, p.rate, p.weight) as origin_delay_rate_1d,
        smoothed_rate(o.delayed_7d, o.n_7d, p.rate, p.weight) as origin_delay_rate_7d,
        o.mean_dep_delay_1d as origin_mean_dep_delay_1d,
        smoothed_rate(oh.delayed_28d, oh.n_28d, p.rate, p.weight) as origin_hour_delay_rate_28d,
        smoothed_rate(d.delayed_28d, d.n_28d, p.rate, p.weight) as dest_delay_rate_28d,
        smoothed_rate(r.delayed_28d, r.n_28d, p.rate, p.weight) as route_delay_rate_28d,
        coalesce(r.n_28d, 0) as route_flights_28d,
        smoothed_rate(f.delayed_28d, f.n_28d, p.rate, p.weight) as flight_number_delay_rate_28d,
        p.rate as all_flights_delay_rate_28d,

        -- Aircraft (from the newest reference snapshot on or before the day)
        year(s.flight_date) - pl.year_built as plane_age_years,
        pl.seats as plane_seats,
        pl.engines as plane_engines,

        -- Weather at the origin in the scheduled hour: the documented forecast stand-in
        w.temp_f as wx_temp_f,
        w.dewpoint_f as wx_dewpoint_f,
        w.humidity_pct as wx_humidity_pct,
        w.wind_speed_mph as wx_wind_speed_mph,
        w.wind_gust_mph as wx_wind_gust_mph,
        w.precip_in as wx_precip_in,
        w.pressure_mb as wx_pressure_mb,
        w.visibility_mi as wx_visibility_mi,
        w.precip_4h_in as wx_precip_4h_in,
        wd.precip_in as wx_day_precip_in,
        wd.precip_hours as wx_day_precip_hours,
        wd.min_visibility_mi as wx_day_min_visibility_mi,
        wd.max_wind_speed_mph as wx_day_max_wind_speed_mph,

        -- Label: the outcome of this very flight (null until known, or when cancelled/diverted)
        oc.arr_delay_minutes as label_arr_delay_minutes,
        oc.is_delayed as label_is_delayed
    from schedule as s
    cross join prior as p
    left join carrier_rates as c on s.carrier = c.carrier
    left join origin_rates as o on s.origin = o.origin
    left join origin_hour_rates as oh
        on s.origin = oh.origin and s.sched_dep_hour = oh.sched_dep_hour
    left join dest_rates as d on s.dest = d.dest
    left join route_rates as r on s.origin = r.origin and s.dest = r.dest
    left join flight_number_rates as f
        on s.carrier = f.carrier and s.flight_number = f.flight_number
    left join planes as pl on s.tailnum = pl.tailnum
    left join weather as w on s.origin = w.origin and s.sched_dep_hour_utc = w.observed_hour_utc
    left join weather_day as wd on s.origin = wd.origin
    left join outcomes as oc
        on
            s.carrier = oc.carrier
            and s.flight_number = oc.flight_number
            and s.origin = oc.origin
)

select * from final
order by carrier, flight_number, origin
