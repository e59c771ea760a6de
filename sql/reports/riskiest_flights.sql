-- The ten riskiest flights scheduled on $day, for `nightshift scores`.
-- Grain: one scored flight. Reads the warehouse view scores.flight_delay_predictions.
select
    scheduled_departure,
    carrier,
    flight_number,
    origin,
    dest,
    round(probability, 3) as probability,
    risk_band,
    model_version
from scores.flight_delay_predictions
where flight_date = $day
order by probability desc, scheduled_departure asc
limit 10
