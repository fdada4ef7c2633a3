-- job_ids: queue, state, task?, changed_since?, before?, limit -> the ids of the newest jobs of
-- the queue in the state (of the task, last changed at or after changed_since, below the id
-- `before`), newest first, at most `limit`: a page of a walk over many jobs, without their
-- payloads and results. Active jobs (a host's concurrency at most) come all in one page.
local queue, state, task, since, before, limit = arg(), arg(), opt(), opt(), opt(), tonumber(arg())
local set = key('qstate', queue, state)
local function wanted(id)
  if before and tonumber(id) >= tonumber(before) then return false end
  if not task and not since then return true end
  local f = redis.call('HMGET', key('job', id), 't', 'u')
  return (not task or f[1] == task) and (not since or tonumber(f[2] or 0) >= tonumber(since))
end
local ids = {}
if state == 'active' then
  -- Scored by their lease, not their id: all of them (a host's concurrency at most).
  for _, id in ipairs(redis.call('ZRANGE', set, 0, -1)) do
    if wanted(id) then ids[#ids + 1] = tonumber(id) end
  end
  table.sort(ids, function(a, b) return a > b end)
  return ids
end
return newest_ids(set, before, limit, wanted)
