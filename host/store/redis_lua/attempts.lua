-- attempts: job id -> {the attempts' fields (PREFIXatt:ID), the job's result or nil}
local id = arg()
return {redis.call('HGETALL', key('att', id)), redis.call('HGET', key('job', id), 'res')}
