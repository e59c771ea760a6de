-- marts.route_risk_daily
-- Grain: one route (origin, dest) on one scored day. Key: (flight_date, origin, dest).
-- The delay risk the model predicted for each route and day, and, once the day has happened,
-- the share of its flights that actually arrived more than 15 minutes late.
with

predictions as (
    select * from scores.flight_delay_predictions
),

outcomes as (
    select
        flight_date,
        carrier,
        flight_number,
        origin,
        label_is_delayed
    from features.flight_features
),

joined as (
    select
        p.*,
        o.label_is_delayed
    from predictions as p
    left join outcomes as o using (flight_date, carrier, flight_number, origin)
),

final as (
    select
        flight_date,
        origin,
        dest,
        count(*) as flights,
        avg(probability) as mean_probability,
        max(probability) as max_probability,
        count(*) filter (where risk_band = 'high') as high_risk_flights,
        count(label_is_delayed) as flights_with_outcome,
        avg(label_is_delayed::int) as actual_delay_rate,
        string_agg(distinct model_version, ',' order by model_version) as model_versions,
        string_agg(distinct pipeline_run_id, ',' order by pipeline_run_id) as pipeline_run_ids
    from joined
    group by flight_date, origin, dest
)

select * from final
