-- marts.model_performance
-- Grain: one monitored day. Key: (dt).
-- How the predictions for each day did once its outcomes were in, beside that day's drift:
-- the one table to chart the model's health over time.
with

performance as (
    select * from monitoring.model_performance_daily
),

drift as (
    select
        dt,
        max(psi) filter (where measure = 'rows') as max_feature_psi,
        arg_max(feature, psi) filter (where measure = 'rows') as most_drifted_feature,
        count(*) filter (where drifted) as drifted_features
    from monitoring.feature_drift_daily
    group by dt
),

final as (
    select
        p.dt,
        p.model_name,
        p.model_version,
        p.flights_scored,
        p.flights_labelled,
        p.roc_auc,
        p.pr_auc,
        p.brier,
        p.log_loss,
        p.predicted_delay_rate,
        p.actual_delay_rate,
        p.predicted_delay_rate - p.actual_delay_rate as calibration_gap,
        p.in_sample,
        d.max_feature_psi,
        d.most_drifted_feature,
        coalesce(d.drifted_features, 0) as drifted_features,
        p.pipeline_run_id
    from performance as p
    left join drift as d using (dt)
)

select * from final
