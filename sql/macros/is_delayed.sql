-- is_delayed(arr_delay_minutes): the label, more than 15 minutes late at arrival.
-- Null when the arrival delay is unknown (a cancelled or diverted flight): no label, not "on
-- time". The one definition of the label, for the outcomes and the labelled schedule.
create or replace macro is_delayed(arr_delay_minutes) as
case when arr_delay_minutes is null then null else arr_delay_minutes > 15 end
