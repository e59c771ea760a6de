-- marts.realized_performance_by_slice
-- Grain: one value of one slice (origin, carrier, scheduled hour, risk band) for one model
-- version, over every monitored day. Key: (slice, value, model_version).
-- How the predictions did once outcomes were in, where: which airports, airlines, hours and
-- bands the model serves worse. Counts and Brier add up across days (weighted by flights);
-- ROC-AUC does not, so the mart gives the mean of the daily values beside them.
with

slices as (
    select * from monitoring.performance_by_slice_daily
),

final as (
    select
        slice,
        value,
        model_version,
        count(*) as days,
        min(dt) as first_day,
        max(dt) as last_day,
        sum(flights_labelled) as flights_labelled,
        sum(mean_probability * flights_labelled) / sum(flights_labelled) as mean_probability,
        sum(actual_delay_rate * flights_labelled) / sum(flights_labelled) as actual_delay_rate,
        (sum(mean_probability * flights_labelled) - sum(actual_delay_rate * flights_labelled))
        / sum(flights_labelled) as calibration_gap,
        sum(brier * flights_labelled) / sum(flights_labelled) as brier,
        avg(roc_auc) as mean_daily_roc_auc
    from slices
    where flights_labelled > 0
    group by slice, value, model_version
)

select * from final
order by slice, value, model_version
