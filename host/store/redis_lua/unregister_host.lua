-- unregister_host: name, holder -> 1 when the holder still held the name and is now stopped
local name, holder = arg(), arg()
local host = key('host', name)
local f = redis.call('HMGET', host, 'holder', 'stopped')
if f[1] ~= holder or f[2] then return 0 end
redis.call('HSET', host, 'stopped', int(NOW))
redis.call('HDEL', host, 'status')
event('host.gone', nil, nil, nil, name)
return 1
