-- Partitions and rows of one lake table within [$start, $end), for `nightshift summary`.
-- Grain: one row. $files: the table's lake glob.
select
    count(distinct dt) as partitions,
    count(*) as row_count
from lake_table($files)
where dt >= $start and dt < $end
