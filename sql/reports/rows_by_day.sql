-- Rows per day within [$start, $end) of the files matched by $files (all quarantine tables).
-- Grain: one day (key dt).
select
    dt,
    count(*) as row_count
from lake_table($files)
where dt >= $start and dt < $end
group by dt
