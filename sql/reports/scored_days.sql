-- The days that have scores, for `nightshift scores` to name when asked for a day without any.
-- Grain: one scored day (key dt, the flight date of its predictions). Reads
-- scores.flight_delay_predictions.
select distinct dt
from scores.flight_delay_predictions
order by dt
