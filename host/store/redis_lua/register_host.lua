-- register_host and take_over_host: name, holder, stale after (ms), '1' to take over whatever
-- is registered -> 1, or 0 when another live holder has the name
local name, holder, stale, force = arg(), arg(), tonumber(arg()), arg() == '1'
local host = key('host', name)
if not force then
  local f = redis.call('HMGET', host, 'holder', 'hb', 'stopped')
  if f[1] and f[1] ~= holder and not f[3] and NOW - tonumber(f[2]) < stale then return 0 end
end
-- What the previous instance published stays until this one publishes; what it ran does not.
redis.call('HSET', host, 'holder', holder, 'started', int(NOW), 'hb', int(NOW))
redis.call('HDEL', host, 'stopped', 'status')
redis.call('SADD', key('hosts'), name)
event('host.up', nil, nil, nil, name)
return 1
