-- lost_attempts: host name, holder -> the hashes of active jobs whose lease expired before now,
-- or whose holder is another instance of this host name, by id.
local name, holder = arg(), arg()
local ids, seen = {}, {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', key('leases'), '-inf', '(' .. int(NOW))) do
  seen[id] = true
  ids[#ids + 1] = id
end
for _, id in ipairs(redis.call('SMEMBERS', key('held', name))) do
  if not seen[id] and redis.call('HGET', key('job', id), 'h') ~= holder then
    seen[id] = true
    ids[#ids + 1] = id
  end
end
table.sort(ids, function(a, b) return tonumber(a) < tonumber(b) end)
local out = {}
for _, id in ipairs(ids) do
  if redis.call('HGET', key('job', id), 's') == 'active' then out[#out + 1] = redis.call('HGETALL', key('job', id)) end
end
return out
