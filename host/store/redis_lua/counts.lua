-- queue_counts: how many queues are named, their names -> for each queue with jobs, a pause
-- flag or a name: {queue, paused (0 or 1), then its count in each state of `states`}
local states = {'waiting', 'delayed', 'blocked', 'active', 'completed', 'dead', 'cancelled'}
local queues, seen, paused = {}, {}, {}
local function add(queue)
  if not seen[queue] then
    seen[queue] = true
    queues[#queues + 1] = queue
  end
end
for _ = 1, tonumber(arg()) do add(arg()) end
for _, queue in ipairs(redis.call('SMEMBERS', key('queues'))) do add(queue) end
for _, queue in ipairs(redis.call('SMEMBERS', key('paused'))) do
  add(queue)
  paused[queue] = true
end
local out = {}
for _, queue in ipairs(queues) do
  local entry = {queue, paused[queue] and 1 or 0}
  for _, state in ipairs(states) do entry[#entry + 1] = redis.call('ZCARD', key('qstate', queue, state)) end
  out[#out + 1] = entry
end
return out
