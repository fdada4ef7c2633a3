-- promote: job id -> 1 when the delayed job may run now, 0 when it is in another state
if promote_job(arg()) == 'changed' then return 1 end
return 0
