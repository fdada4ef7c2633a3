-- list: queue?, state?, task?, before?, limit (0: none) -> the hashes of the newest matching
-- jobs, newest first. Merged from the queue-and-state sets, each read from below `before` (a
-- page cursor) and no further than the page needs: a page costs the same at the end of a
-- large set as at its start.
local queue, state, task, before, limit = opt(), opt(), opt(), opt(), tonumber(arg())
local queues = {queue}
if not queue then queues = redis.call('SMEMBERS', key('queues')) end
local states = {state}
if not state then states = {'waiting', 'delayed', 'blocked', 'active', 'completed', 'dead', 'cancelled'} end
local top = '+inf'
if before then top = '(' .. before end
local function wanted(id)
  return (not before or id < tonumber(before)) and (not task or redis.call('HGET', key('job', id), 't') == task)
end
-- Sets other than active are scored by id: read newest first in chunks until the page is full.
local CHUNK = 500
if limit > 0 and limit < CHUNK then CHUNK = limit end
local ids = {}
for _, q in ipairs(queues) do
  for _, s in ipairs(states) do
    local set = key('qstate', q, s)
    if s == 'active' then
      -- Scored by their lease, not their id: all of them (a host's concurrency at most).
      for _, id in ipairs(redis.call('ZRANGE', set, 0, -1)) do
        if wanted(tonumber(id)) then ids[#ids + 1] = tonumber(id) end
      end
    else
      local found, from = 0, top
      while limit == 0 or found < limit do
        local chunk = redis.call('ZRANGE', set, from, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, CHUNK)
        for _, id in ipairs(chunk) do
          if (limit == 0 or found < limit) and wanted(tonumber(id)) then
            ids[#ids + 1] = tonumber(id)
            found = found + 1
          end
        end
        if #chunk < CHUNK then break end
        from = '(' .. chunk[#chunk]
      end
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
