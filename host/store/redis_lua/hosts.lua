-- hosts: -> {name, the host's hash, ...} for every host record
local out = {}
for _, name in ipairs(redis.call('SMEMBERS', key('hosts'))) do
  out[#out + 1] = name
  out[#out + 1] = redis.call('HGETALL', key('host', name))
end
return out
