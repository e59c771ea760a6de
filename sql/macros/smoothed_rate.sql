-- smoothed_rate(delayed, flights, prior_rate, prior_weight): a delay rate shrunk toward a prior.
-- (delayed + prior_rate * prior_weight) / (flights + prior_weight), a missing count read as 0:
-- a group seen twice gets a rate near the prior, not 0% or 100%.
create or replace macro smoothed_rate(delayed, flights, prior_rate, prior_weight) as
(coalesce(delayed, 0) + prior_rate * prior_weight) / (coalesce(flights, 0) + prior_weight)
