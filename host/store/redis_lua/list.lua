-- list: queue?, state?, task?, before?, limit (0: none) -> the hashes of the newest matching
-- jobs, newest first. Merged from the queue-and-state sets, each read from below `before` (a
-- page cursor) and no further than the page needs: a page costs the same at the end of a
-- large set as at its start.
local queue, state, task, before, limit = opt(), opt(), opt(), opt(), tonumber(arg())
local queues = {queue}
if not queue then queues = redis.call('SMEMBERS', key('queues')) end
local states = {state}
if not state then states = {'waiting', 'delayed', 'blocked', 'active', 'completed', 'dead', 'cancelled'} end
local function wanted(id)
  return (not before or tonumber(id) < tonumber(before)) and (not task or redis.call('HGET', key('job', id), 't') == task)
end
local ids = {}
for _, q in ipairs(queues) do
  for _, s in ipairs(states) do
    local set = key('qstate', q, s)
    if s == 'active' then
      -- Scored by their lease, not their id: all of them (a host's concurrency at most).
      for _, id in ipairs(redis.call('ZRANGE', set, 0, -1)) do
        if wanted(id) then ids[#ids + 1] = tonumber(id) end
      end
    else
      for _, id in ipairs(newest_ids(set, before, limit, wanted)) do ids[#ids + 1] = id end
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
