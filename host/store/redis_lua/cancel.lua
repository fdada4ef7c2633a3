-- cancel: job id -> cancelled | requested | already_final | not_found
return cancel_job(arg())
