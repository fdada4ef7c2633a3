-- retry: job id -> 1 when the dead or cancelled job runs again, 0 when it is in another state
if retry_job(arg()) == 'changed' then return 1 end
return 0
