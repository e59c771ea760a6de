-- staging.stg_weather
-- Grain: one hourly observation at a NYC airport. Key: (origin, observed_hour_utc).
with

source as (
    select * from raw.weather
),

final as (
    select
        dt as observed_date,
        origin,
        time_hour as observed_hour_utc,
        temp as temp_f,
        dewp as dewpoint_f,
        humid as humidity_pct,
        wind_dir as wind_dir_deg,
        wind_speed as wind_speed_mph,
        wind_gust as wind_gust_mph,
        precip as precip_in,
        pressure as pressure_mb,
        visib as visibility_mi
    from source
)

select * from final
