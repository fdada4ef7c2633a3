-- list: queue?, state?, task?, before?, limit (0: none) -> the hashes of the newest matching
-- jobs, newest first. Merged from the queue-and-state sets, each read no further than the limit
-- unless a task or a page cursor (ids below `before`) filters what they hold.
local queue, state, task, before, limit = opt(), opt(), opt(), opt(), tonumber(arg())
if before then before = tonumber(before) end
local queues = {queue}
if not queue then queues = redis.call('SMEMBERS', key('queues')) end
local states = {state}
if not state then states = {'waiting', 'delayed', 'blocked', 'active', 'completed', 'dead', 'cancelled'} end
local last = -1
if limit > 0 then last = limit - 1 end
local ids = {}
for _, q in ipairs(queues) do
  for _, s in ipairs(states) do
    -- Active jobs are scored by their lease, not their id: all of them (a host's concurrency).
    local upto = last
    if s == 'active' or task or before then upto = -1 end
    for _, id in ipairs(redis.call('ZREVRANGE', key('qstate', q, s), 0, upto)) do
      local n = tonumber(id)
      if (not before or n < before) and (not task or redis.call('HGET', key('job', n), 't') == task) then ids[#ids + 1] = n end
    end
  end
end
table.sort(ids, function(a, b) return a > b end)
local out = {}
for i, id in ipairs(ids) do
  if limit > 0 and i > limit then break end
  out[i] = redis.call('HGETALL', key('job', int(id)))
end
return out
