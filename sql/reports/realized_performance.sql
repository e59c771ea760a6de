-- Realized performance of the predictions for the days in [$start, $day), for `nightshift scores`.
-- Grain: one monitored day (key dt). Reads the warehouse mart marts.model_performance.
select
    dt,
    model_version,
    flights_labelled as flights,
    round(roc_auc, 3) as roc_auc,
    round(brier, 4) as brier,
    round(predicted_delay_rate, 3) as predicted,
    round(actual_delay_rate, 3) as actual,
    round(max_feature_psi, 3) as max_psi
from marts.model_performance
where dt >= $start and dt < $day
order by dt
