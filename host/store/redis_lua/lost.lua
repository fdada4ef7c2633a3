-- lost_attempts: host name, holder -> the hashes of active jobs whose lease expired before now,
-- or whose holder is another instance of this host name, by id. Reads every active job (the
-- active set of each queue is scored by lease expiry): the hot path keeps no index by host for
-- this once-a-second look.
local name, holder = arg(), arg()
local instance_of = name .. '/'
local ids = {}
for _, queue in ipairs(redis.call('SMEMBERS', key('queues'))) do
  local leases = redis.call('ZRANGE', key('qstate', queue, 'active'), 0, -1, 'WITHSCORES')
  for i = 1, #leases, 2 do
    local id = leases[i]
    local lost = tonumber(leases[i + 1]) < NOW
    if not lost then
      local h = redis.call('HGET', key('job', id), 'h')
      lost = h and h ~= holder and string.sub(h, 1, #instance_of) == instance_of
    end
    if lost then ids[#ids + 1] = id end
  end
end
table.sort(ids, function(a, b) return tonumber(a) < tonumber(b) end)
local out = {}
for _, id in ipairs(ids) do
  if redis.call('HGET', key('job', id), 's') == 'active' then out[#out + 1] = redis.call('HGETALL', key('job', id)) end
end
return out
