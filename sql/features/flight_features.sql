-- features.flight_features, for every day of [$start, $end)
-- Grain: one scheduled flight of a day of the interval. Key: (flight_date, carrier, flight_number,
-- origin).
--
-- Leak-free by construction: every feature of a flight of day F reads either the published
-- schedule of F (the schedule columns of staging.stg_flight_labelled_schedule) or outcomes of
-- days strictly before F (the trailing counts below). Two documented exceptions:
--   * label_* columns: the outcome of the flight itself (what the model learns to predict);
--   * wx_* columns: the observed weather at the scheduled hour (and the hours before it, and the
--     day's totals), a stand-in for the forecast an airline would have the evening before.
--     Observed weather is better than any forecast, so offline metrics are optimistic on
--     weather-driven days.
-- Delay rates are smoothed toward the trailing 28-day rate of all flights, with the weight of
-- 20 flights (the `prior` CTE; the macro smoothed_rate in sql/macros), so a route seen twice
-- does not get a rate of 0% or 100%.
--
-- The history arrives counted, in two relations pipelines/trailing.py defines for the interval:
--   trailing_flight_numbers: per feature day, carrier and flight number, the flights of the 28
--     days before and the delayed ones (sql/features/flight_number_28d.sql; for one day, the lake's
--     features.flight_number_28d, moved a day at a time by sql/features/flight_number_step.sql);
--   trailing_route_hour_daily: per flight day, carrier, route and hour, the day's counts
--     (sql/features/route_hour_daily.sql; for one day, the lake's features.route_hour_daily).
-- So a day reads one table per flight number and 28 small ones, never 28 days of flights, and a
-- day's rows are the same whether it is built alone or inside a longer interval.
--
-- The joins are written in the order they run (pipelines/trailing.py turns off DuckDB's join
-- reordering for this query): the day's schedule drives every lookup, and each lookup is the
-- hash table. Reordered, DuckDB would put the schedule, a day's worth of wide rows, into a hash
-- table against a one-row table (and run past its memory limit on a 10-million-flight day).
with

schedule as not materialized (
    select * from staging.stg_flight_labelled_schedule
    where flight_date >= $start and flight_date < $end
),

-- Each day's counts once per feature day whose window holds it (days_before = F - flight_date,
-- 1..28): one copy for a single day, at most 28 for a long interval. Small: a row per carrier,
-- route and hour of a day.
route_hour_days as (
    select
        *,
        flight_date + cast(unnest(range(
            greatest(1, cast($start as date) - flight_date),
            least(28, cast($end as date) - 1 - flight_date) + 1
        )) as integer) as feature_date
    from trailing_route_hour_daily
    where
        flight_date >= cast($start as date) - 28
        and flight_date < cast($end as date) - 1
),

-- The 1-, 7- and 28-day windows per carrier, route and hour. Exact while delays are whole
-- minutes, as the sources record them (a sum of daily sums; a fractional delay could move the
-- last bits of a mean, as DuckDB's parallel sums of doubles do).
route_hour_windows as (
    select
        feature_date,
        carrier,
        origin,
        dest,
        sched_dep_hour,
        coalesce(sum(flights) filter (where feature_date - flight_date = 1), 0) as n_1d,
        coalesce(sum(delayed) filter (where feature_date - flight_date = 1), 0) as delayed_1d,
        sum(dep_delay_sum) filter (where feature_date - flight_date = 1) as dep_delay_sum_1d,
        coalesce(sum(dep_delay_count) filter (where feature_date - flight_date = 1), 0)
            as dep_delay_count_1d,
        coalesce(sum(flights) filter (where feature_date - flight_date <= 7), 0) as n_7d,
        coalesce(sum(delayed) filter (where feature_date - flight_date <= 7), 0) as delayed_7d,
        sum(dep_delay_sum) filter (where feature_date - flight_date <= 7) as dep_delay_sum_7d,
        coalesce(sum(dep_delay_count) filter (where feature_date - flight_date <= 7), 0)
            as dep_delay_count_7d,
        sum(flights) as n_28d,
        sum(delayed) as delayed_28d
    from route_hour_days
    group by feature_date, carrier, origin, dest, sched_dep_hour
),

-- Rolled up to the groupings the features read: all flights, carrier, origin, origin and hour,
-- dest, route. Counts roll up exactly, and so do the delay sums while delays are whole minutes.
window_sets as (
    select
        grouping(carrier) = 0 as by_carrier,
        grouping(origin) = 0 as by_origin,
        grouping(sched_dep_hour) = 0 as by_hour,
        grouping(dest) = 0 as by_dest,
        feature_date,
        carrier,
        origin,
        sched_dep_hour,
        dest,
        cast(sum(n_1d) as bigint) as n_1d,
        cast(sum(delayed_1d) as bigint) as delayed_1d,
        cast(sum(dep_delay_sum_1d) as double) as dep_delay_sum_1d,
        cast(sum(dep_delay_count_1d) as bigint) as dep_delay_count_1d,
        cast(sum(n_7d) as bigint) as n_7d,
        cast(sum(delayed_7d) as bigint) as delayed_7d,
        cast(sum(dep_delay_sum_7d) as double) as dep_delay_sum_7d,
        cast(sum(dep_delay_count_7d) as bigint) as dep_delay_count_7d,
        cast(sum(n_28d) as bigint) as n_28d,
        cast(sum(delayed_28d) as bigint) as delayed_28d
    from route_hour_windows
    group by grouping sets (
        (feature_date),
        (feature_date, carrier),
        (feature_date, origin),
        (feature_date, origin, sched_dep_hour),
        (feature_date, dest),
        (feature_date, origin, dest)
    )
),

-- A group without any flight in its window has no rate (null), as a group never seen.
rates as (
    select
        case
            when by_carrier then 'carrier'
            when by_hour then 'origin_hour'
            when by_origin and by_dest then 'route'
            when by_origin then 'origin'
            when by_dest then 'dest'
            else 'all'
        end as grouping_name,
        feature_date,
        carrier,
        origin,
        sched_dep_hour,
        dest,
        nullif(n_1d, 0) as n_1d,
        case when n_1d > 0 then delayed_1d end as delayed_1d,
        case when dep_delay_count_1d > 0 then dep_delay_sum_1d / dep_delay_count_1d end
            as mean_dep_delay_1d,
        nullif(n_7d, 0) as n_7d,
        case when n_7d > 0 then delayed_7d end as delayed_7d,
        case when dep_delay_count_7d > 0 then dep_delay_sum_7d / dep_delay_count_7d end
            as mean_dep_delay_7d,
        nullif(n_28d, 0) as n_28d,
        case when n_28d > 0 then delayed_28d end as delayed_28d
    from window_sets
),

flight_number_rates as (
    select
        feature_date,
        carrier,
        flight_number,
        nullif(flights_28d, 0) as n_28d,
        case when flights_28d > 0 then delayed_28d end as delayed_28d
    from trailing_flight_numbers
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
    where observed_date between cast($start as date) - 1 and cast($end as date)
),

-- The day's weather at each origin: the stand-in for the daily forecast known the evening before.
weather_day as (
    select
        origin,
        observed_date,
        sum(precip_in) as precip_in,
        count(*) filter (where precip_in > 0) as precip_hours,
        min(visibility_mi) as min_visibility_mi,
        max(wind_speed_mph) as max_wind_speed_mph
    from weather
    where observed_date >= $start and observed_date < $end
    group by origin, observed_date
),

-- The aircraft's n-th scheduled departure from NYC that day (delays accumulate by leg), numbered
-- over the schedule's columns: in `final` the window would sort every feature column with it.
schedule_legs as (
    select
        *,
        case when tailnum is not null then row_number() over (
            partition by flight_date, tailnum
            order by sched_dep_minute_of_day, carrier, flight_number, origin
        ) end as tail_leg_of_day
    from schedule
),

-- The groups of the day's schedule that share every feature but the flight's own: a carrier,
-- route and scheduled hour (in local and UTC time) of a day. 180,000 on a 9.8M-flight day.
route_hours as (
    select distinct
        flight_date,
        carrier,
        origin,
        dest,
        sched_dep_hour,
        sched_dep_hour_utc
    from schedule
),

-- The day's scheduled departures per origin and hour (a GROUP BY: a window would sort the day).
origin_hour_departures as (
    select
        flight_date,
        origin,
        sched_dep_hour,
        count(*) as departures
    from schedule
    group by flight_date, origin, sched_dep_hour
),

scheduled_days as (
    select distinct flight_date from schedule
),

-- Every scheduled day has a prior, even with no flight in its window (the first day of a lake).
prior as (
    select
        d.flight_date,
        coalesce(r.delayed_28d / r.n_28d, 0.2) as rate,
        20.0 as weight
    from scheduled_days as d
    left join rates as r on r.grouping_name = 'all' and d.flight_date = r.feature_date
),

origin_day_departures as (
    select
        flight_date,
        origin,
        cast(sum(departures) as bigint) as departures
    from origin_hour_departures
    group by flight_date, origin
),

-- Everything a flight shares with its carrier, route and hour, computed once per such group and
-- then looked up once per flight: the day's traffic at the origin, the prior, the smoothed
-- trailing rates, and the weather at the hour (the documented forecast stand-in).
route_hour_context as materialized (
    select
        k.flight_date,
        k.carrier,
        k.origin,
        k.dest,
        k.sched_dep_hour,
        k.sched_dep_hour_utc,
        p.rate as prior_rate,
        p.weight as prior_weight,
        oh_n.departures as origin_departures_same_hour,
        od_n.departures as origin_departures_day,
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
        wd.max_wind_speed_mph as wx_day_max_wind_speed_mph
    from route_hours as k
    inner join prior as p on k.flight_date = p.flight_date
    inner join origin_hour_departures as oh_n
        on
            k.flight_date = oh_n.flight_date
            and k.origin is not distinct from oh_n.origin
            and k.sched_dep_hour is not distinct from oh_n.sched_dep_hour
    inner join origin_day_departures as od_n
        on k.flight_date = od_n.flight_date and k.origin is not distinct from od_n.origin
    left join rates as c
        on c.grouping_name = 'carrier' and k.flight_date = c.feature_date and k.carrier = c.carrier
    left join rates as o
        on o.grouping_name = 'origin' and k.flight_date = o.feature_date and k.origin = o.origin
    left join rates as oh
        on
            oh.grouping_name = 'origin_hour'
            and k.flight_date = oh.feature_date
            and k.origin = oh.origin
            and k.sched_dep_hour = oh.sched_dep_hour
    left join rates as d
        on d.grouping_name = 'dest' and k.flight_date = d.feature_date and k.dest = d.dest
    left join rates as r
        on
            r.grouping_name = 'route'
            and k.flight_date = r.feature_date
            and k.origin = r.origin
            and k.dest = r.dest
    left join weather as w on k.origin = w.origin and k.sched_dep_hour_utc = w.observed_hour_utc
    left join weather_day as wd on k.origin = wd.origin and k.flight_date = wd.observed_date
),

snapshot_dates as (
    select distinct snapshot_date from staging.stg_planes
),

-- The aircraft reference in force on each day: its newest snapshot on or before the day.
snapshot_of_day as (
    select
        d.flight_date,
        max(p.snapshot_date) as snapshot_date
    from scheduled_days as d
    inner join snapshot_dates as p on d.flight_date >= p.snapshot_date
    group by d.flight_date
),

planes as materialized (
    select
        s.flight_date,
        p.tailnum,
        p.year_built,
        p.seats,
        p.engines
    from staging.stg_planes as p
    inner join snapshot_of_day as s on p.snapshot_date = s.snapshot_date
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
        -- The day's traffic at the origin.
        x.origin_departures_same_hour,
        x.origin_departures_day,
        s.tail_leg_of_day,

        -- Trailing delay rates (days before the flight's day only), smoothed toward the prior
        x.carrier_delay_rate_7d,
        x.carrier_delay_rate_28d,
        x.carrier_mean_dep_delay_7d,
        x.origin_delay_rate_1d,
        x.origin_delay_rate_7d,
        x.origin_mean_dep_delay_1d,
        x.origin_hour_delay_rate_28d,
        x.dest_delay_rate_28d,
        x.route_delay_rate_28d,
        x.route_flights_28d,
        smoothed_rate(f.delayed_28d, f.n_28d, x.prior_rate, x.prior_weight)
            as flight_number_delay_rate_28d,
        x.prior_rate as all_flights_delay_rate_28d,

        -- Aircraft (from the newest reference snapshot on or before the day)
        year(s.flight_date) - pl.year_built as plane_age_years,
        pl.seats as plane_seats,
        pl.engines as plane_engines,

        -- Weather at the origin in the scheduled hour: the documented forecast stand-in
        x.wx_temp_f,
        x.wx_dewpoint_f,
        x.wx_humidity_pct,
        x.wx_wind_speed_mph,
        x.wx_wind_gust_mph,
        x.wx_precip_in,
        x.wx_pressure_mb,
        x.wx_visibility_mi,
        x.wx_precip_4h_in,
        x.wx_day_precip_in,
        x.wx_day_precip_hours,
        x.wx_day_min_visibility_mi,
        x.wx_day_max_wind_speed_mph,

        -- Label: the outcome of this very flight (null until known, or when cancelled/diverted),
        -- passed through from its schedule row; no feature reads it.
        s.label_arr_delay_minutes,
        s.label_is_delayed
    from schedule_legs as s
    inner join route_hour_context as x
        on
            s.flight_date = x.flight_date
            and s.carrier = x.carrier
            and s.origin is not distinct from x.origin
            and s.dest is not distinct from x.dest
            and s.sched_dep_hour is not distinct from x.sched_dep_hour
            and s.sched_dep_hour_utc is not distinct from x.sched_dep_hour_utc
    left join planes as pl on s.flight_date = pl.flight_date and s.tailnum = pl.tailnum
    left join flight_number_rates as f
        on
            s.flight_date = f.feature_date
            and s.carrier = f.carrier
            and s.flight_number = f.flight_number
)

-- In no order: each caller sorts the rows it writes (features.flight_features by key, scoring by
-- departure), so the rows of a day are sorted once, not twice.
select * from final
