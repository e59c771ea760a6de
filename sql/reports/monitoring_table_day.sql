-- One day of a monitoring table, for the monitoring report.
-- Grain: the table's own (a day, a band or a feature of day $day). $files: the table's lake glob.
select *
from lake_table($files)
where dt = $day
order by dt
