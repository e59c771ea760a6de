-- Every day of a monitoring table up to $day, for the monitoring report's history charts.
-- Grain: the table's own, for each day on or before $day. $files: the table's lake glob.
select *
from lake_table($files)
where dt <= $day
order by dt
