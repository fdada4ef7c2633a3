-- renew: job id, attempt id, new expiry (ms) -> 1, or 0 when the attempt no longer holds the lease
local id, attempt, expires = arg(), arg(), arg()
local job = key('job', id)
local f = redis.call('HMGET', job, 's', 'a', 'q')
if f[1] ~= 'active' or f[2] ~= attempt then return 0 end
redis.call('HSET', job, 'le', expires)
redis.call('ZADD', key('qstate', f[3], 'active'), expires, id)
return 1
