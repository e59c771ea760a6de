-- staging.stg_planes
-- Grain: one aircraft in one daily reference snapshot. Key: (snapshot_date, tailnum).
with

source as (
    select * from raw.planes
),

final as (
    select
        dt as snapshot_date,
        tailnum,
        year as year_built,
        type as aircraft_type,
        manufacturer,
        model,
        engines,
        seats,
        engine as engine_type
    from source
)

select * from final
