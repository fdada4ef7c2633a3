-- set_progress: job id, attempt id, percent, message -> 1, or 0 when the lease is not the attempt's
local id, attempt, percent, message = arg(), arg(), arg(), arg()
local job = key('job', id)
local f = redis.call('HMGET', job, 's', 'a', 'q', 't', 'n', 'h')
if f[1] ~= 'active' or f[2] ~= attempt then return 0 end
redis.call('HSET', job, 'pp', percent, 'pm', message)
event('job.progress', id, f[3], f[4], f[6], 'active', tonumber(f[5]), percent)
return 1
