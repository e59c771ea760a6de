-- Validation checks per day within [$start, $end): run, critical failures, warnings.
-- Grain: one day (key dt). $files: the glob of quality.validation_results.
select
    dt,
    count(*) as checks,
    count(*) filter (where not success and severity = 'critical') as critical_failed,
    count(*) filter (where not success and severity = 'warning') as warnings
from lake_table($files)
where dt >= $start and dt < $end
group by dt
order by dt
