-- heartbeat: name, holder, status (JSON) -> 1, or 0 when the holder no longer holds the name
local name, holder, status = arg(), arg(), arg()
local host = key('host', name)
local f = redis.call('HMGET', host, 'holder', 'stopped')
if f[1] ~= holder or f[2] then return 0 end
redis.call('HSET', host, 'hb', int(NOW), 'status', status)
return 1
