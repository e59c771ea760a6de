-- lake_table(files): every partition of one lake table, as a table.
-- Grain: the rows of the files matched by the glob `files`; `dt` (DATE) comes from the
-- `dt=YYYY-MM-DD` folder of each partition. The one place the lake's read options are written:
-- the warehouse views and the report queries all read the lake through this macro.
create or replace macro lake_table(files) as table
    select *
    from read_parquet(
        files,
        hive_partitioning = true,
        union_by_name = true,
        hive_types = { 'dt': date }
    )
