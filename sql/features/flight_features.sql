-- features.flight_features, for every day of [$start, $end)
-- Grain: one scheduled flight of a day of the interval. Key: (flight_date, carrier, flight_number,
-- origin).
--
-- Leak-free by construction: every feature of a flight of day F reads either the published
-- schedule of F (staging.stg_flight_schedule) or outcomes of days strictly before F
-- (staging.stg_flight_outcomes with flight_date < F). Two documented exceptions:
--   * label_* columns: the outcome of the flight itself (what the model learns to predict);
--   * wx_* columns: the observed weather at the scheduled hour (and the hours before it, and the
--     day's totals), a stand-in for the forecast an airline would have the evening before.
--     Observed weather is better than any forecast, so offline metrics are optimistic on
--     weather-driven days.
-- Delay rates are smoothed toward the trailing 28-day rate of all flights, with the weight of
-- 20 flights (the `prior` CTE; the macro smoothed_rate in sql/macros), so a route seen twice does
-- not get a rate of 0% or 100%.
--
-- Set-based: one pass serves a whole interval. Each past flight is counted once per day of the
-- interval whose window holds it, and two aggregations (per flight number; per carrier, route and
-- hour, rolled up to the coarser groupings) give the 1-, 7- and 28-day counts per key and day; for
-- one day that is a scan of the 28 days of history, with as many groups as keys (no per-day
-- rollup, running sums or joins to find window edges). A day's rows are the same whether it is
-- built alone or inside a longer interval.
with

schedule as (
    select * from staging.stg_flight_schedule
    where flight_date >= $start and flight_date < $end
),

outcomes as (
    select * from staging.stg_flight_outcomes
    where flight_date >= $start and flight_date < $end
),

-- Outcomes that some day of the interval looks back on: the 28 days before it.
past as not materialized (
    select * from staging.stg_flight_outcomes
    where
        flight_date >= cast($start as date) - 28
        and flight_date < cast($end as date) - 1
        and is_delayed is not null
),

-- Each past flight once per day of the interval whose 28-day window [F - 28, F - 1] holds it
-- (days_before = F - flight_date): one copy for a single day, at most 28 for a long interval.
-- A single day (a nightly run, scoring) takes the first branch: the same one copy, without a
-- list built and unnested per past flight (25M of them before a 982,000-flight day).
past_days as not materialized (
    select
        *,
        cast($start as date) - flight_date as days_before
    from past
    where cast($end as date) - cast($start as date) = 1
    union all
    select
        *,
        unnest(range(
            greatest(1, cast($start as date) - flight_date),
            least(28, cast($end as date) - 1 - flight_date) + 1
        )) as days_before
    from past
    where cast($end as date) - cast($start as date) > 1
),

-- Each past flight with the day that asks for it (asked_date = flight_date + days_before).
dated as not materialized (
    select
        *,
        flight_date + cast(days_before as integer) as asked_date
    from past_days
),

-- Trailing counts and sums over the 1, 7 and 28 days before each day, in two aggregations of the
-- history: per flight number, and per carrier, route and hour. Every coarser grouping is a
-- roll-up of the second (20,000 keys where the 28 days before a 982,000-flight day hold 25M
-- flights). Counts roll up exactly, and so do the delay sums while delays are whole minutes, as
-- the sources record them (else they could differ in the last bits). Against one GROUPING SETS
-- of the seven groupings over the flights: two hash tables instead of seven. The history is read
-- by both (not materialized): reading it twice costs less than holding it.
--
-- The flight-number table is the large one (893,000 keys on that day) and its only feature is
-- the 28-day rate, so it holds the 28-day count and delays alone: its other windows are null
-- (a window never read). Eight unread aggregates made it 8.4 s of the query's 18.7 s of
-- operator time, and spill to disk at the 2 GB limit.
flight_number_windows as (
    select
        asked_date,
        carrier,
        flight_number,
        count(*) as n_28d,
        count(*) filter (where is_delayed) as delayed_28d
    from dated
    group by asked_date, carrier, flight_number
),

-- The carrier, route and hour counts are taken per span of days before (1; 2 to 7; 8 to 28):
-- four aggregates of the history instead of ten filtered ones, then each window is the sum of
-- at most three spans (exact while delays are whole minutes, as for the roll-up below; a
-- fractional delay could move the last bits of a mean, as DuckDB's parallel sums of doubles do).
route_hour_spans as (
    select
        asked_date,
        carrier,
        origin,
        dest,
        sched_dep_hour,
        case when days_before = 1 then 1 when days_before <= 7 then 7 else 28 end as span,
        count(*) as n,
        count(*) filter (where is_delayed) as delayed,
        sum(dep_delay_minutes) as dep_delay_sum,
        count(dep_delay_minutes) as dep_delay_count
    from dated
    group by all
),

route_hour_windows as (
    select
        asked_date,
        carrier,
        origin,
        dest,
        sched_dep_hour,
        coalesce(sum(n) filter (where span = 1), 0) as n_1d,
        coalesce(sum(delayed) filter (where span = 1), 0) as delayed_1d,
        sum(dep_delay_sum) filter (where span = 1) as dep_delay_sum_1d,
        coalesce(sum(dep_delay_count) filter (where span = 1), 0) as dep_delay_count_1d,
        coalesce(sum(n) filter (where span <= 7), 0) as n_7d,
        coalesce(sum(delayed) filter (where span <= 7), 0) as delayed_7d,
        sum(dep_delay_sum) filter (where span <= 7) as dep_delay_sum_7d,
        coalesce(sum(dep_delay_count) filter (where span <= 7), 0) as dep_delay_count_7d,
        sum(n) as n_28d,
        sum(delayed) as delayed_28d
    from route_hour_spans
    group by asked_date, carrier, origin, dest, sched_dep_hour
),

window_sets as (
    select
        true as by_carrier,
        true as by_flight_number,
        false as by_origin,
        false as by_hour,
        false as by_dest,
        carrier,
        flight_number,
        null as origin,
        null as sched_dep_hour,
        null as dest,
        asked_date,
        cast(null as bigint) as n_1d,
        cast(null as bigint) as delayed_1d,
        cast(null as double) as dep_delay_sum_1d,
        cast(null as bigint) as dep_delay_count_1d,
        cast(null as bigint) as n_7d,
        cast(null as bigint) as delayed_7d,
        cast(null as double) as dep_delay_sum_7d,
        cast(null as bigint) as dep_delay_count_7d,
        n_28d,
        delayed_28d
    from flight_number_windows
    union all
    select
        grouping(carrier) = 0 as by_carrier,
        false as by_flight_number,
        grouping(origin) = 0 as by_origin,
        grouping(sched_dep_hour) = 0 as by_hour,
        grouping(dest) = 0 as by_dest,
        carrier,
        null as flight_number,
        origin,
        sched_dep_hour,
        dest,
        asked_date,
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
        (asked_date),
        (asked_date, carrier),
        (asked_date, origin),
        (asked_date, origin, sched_dep_hour),
        (asked_date, dest),
        (asked_date, origin, dest)
    )
),

-- ... keyed as the joins below ask: a grouping's name and its key as text.
windowed as (
    select
        * exclude (
            by_carrier, by_flight_number, by_origin, by_hour, by_dest,
            carrier, flight_number, origin, sched_dep_hour, dest, asked_date
        ),
        asked_date as flight_date,
        case
            when by_flight_number then 'flight_number'
            when by_carrier then 'carrier'
            when by_hour then 'origin_hour'
            when by_origin and by_dest then 'route'
            when by_origin then 'origin'
            when by_dest then 'dest'
            else 'all'
        end as grouping_name,
        case
            when by_flight_number then carrier || '|' || cast(flight_number as varchar)
            when by_carrier then carrier
            when by_hour then origin || '|' || cast(sched_dep_hour as varchar)
            when by_origin and by_dest then origin || '|' || dest
            when by_origin then origin
            when by_dest then dest
            else ''
        end as key_value
    from window_sets
),

-- A group without any flight in its window has no rate (null), as a group never seen.
rates as (
    select
        grouping_name,
        key_value,
        flight_date,
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
    from windowed
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
-- over the schedule's columns: in `final` the window sorted every feature column with it (1.9 s
-- of operator time on a 982,000-flight day).
schedule_legs as (
    select
        *,
        case when tailnum is not null then row_number() over (
            partition by flight_date, tailnum
            order by sched_dep_minute_of_day, carrier, flight_number, origin
        ) end as tail_leg_of_day
    from schedule
),

-- The day's scheduled departures per origin and hour, and per origin.
origin_hour_departures as (
    select
        flight_date,
        origin,
        sched_dep_hour,
        count(*) as departures
    from schedule
    group by flight_date, origin, sched_dep_hour
),

origin_day_departures as (
    select
        flight_date,
        origin,
        count(*) as departures
    from schedule
    group by flight_date, origin
),

scheduled_days as (
    select distinct flight_date from schedule
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

planes as (
    select
        p.*,
        s.flight_date
    from staging.stg_planes as p
    inner join snapshot_of_day as s on p.snapshot_date = s.snapshot_date
),

-- Every scheduled day has a prior, even with no flight in its window (the first day of a lake).
prior as (
    select
        d.flight_date,
        coalesce(r.delayed_28d / r.n_28d, 0.2) as rate,
        20.0 as weight
    from scheduled_days as d
    left join rates as r on r.grouping_name = 'all' and d.flight_date = r.flight_date
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
        -- The day's traffic at the origin (counts by a GROUP BY: a window would sort the day).
        oh_n.departures as origin_departures_same_hour,
        od_n.departures as origin_departures_day,
        s.tail_leg_of_day,

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
    from schedule_legs as s
    inner join prior as p on s.flight_date = p.flight_date
    inner join origin_hour_departures as oh_n
        on
            s.flight_date = oh_n.flight_date
            and s.origin is not distinct from oh_n.origin
            and s.sched_dep_hour is not distinct from oh_n.sched_dep_hour
    inner join origin_day_departures as od_n
        on s.flight_date = od_n.flight_date and s.origin is not distinct from od_n.origin
    left join rates as c
        on c.grouping_name = 'carrier' and s.flight_date = c.flight_date and s.carrier = c.key_value
    left join rates as o
        on o.grouping_name = 'origin' and s.flight_date = o.flight_date and s.origin = o.key_value
    left join rates as oh
        on
            oh.grouping_name = 'origin_hour'
            and s.flight_date = oh.flight_date
            and s.origin || '|' || cast(s.sched_dep_hour as varchar) = oh.key_value
    left join rates as d
        on d.grouping_name = 'dest' and s.flight_date = d.flight_date and s.dest = d.key_value
    left join rates as r
        on
            r.grouping_name = 'route'
            and s.flight_date = r.flight_date
            and s.origin || '|' || s.dest = r.key_value
    left join rates as f
        on
            f.grouping_name = 'flight_number'
            and s.flight_date = f.flight_date
            and s.carrier || '|' || cast(s.flight_number as varchar) = f.key_value
    left join planes as pl on s.flight_date = pl.flight_date and s.tailnum = pl.tailnum
    left join weather as w on s.origin = w.origin and s.sched_dep_hour_utc = w.observed_hour_utc
    left join weather_day as wd on s.origin = wd.origin and s.flight_date = wd.observed_date
    left join outcomes as oc
        on
            s.flight_date = oc.flight_date
            and s.carrier = oc.carrier
            and s.flight_number = oc.flight_number
            and s.origin = oc.origin
)

-- In no order: each caller sorts the rows it writes (features.flight_features by key, scoring by
-- departure), so the rows of a day are sorted once, not twice.
select * from final
