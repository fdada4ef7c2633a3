-- purge, one batch of one queue: state, older than (ms), queue, offset, batch size ->
-- {deleted, kept, examined}: of the queue's jobs in `state` by id from `offset`, those last
-- updated before `older` that no job still to run depends on are deleted with their attempts.
-- The kept ones stay where they are: the caller's next batch starts after them.
local state, older, queue, offset, batch = arg(), tonumber(arg()), arg(), tonumber(arg()), tonumber(arg())
local in_state = key('qstate', queue, state)
local ids = redis.call('ZRANGE', in_state, offset, offset + batch - 1)
local deleted, kept = 0, 0
for _, id in ipairs(ids) do
  local j = load(id)
  local keep = j ~= nil and j.s == state and tonumber(redis.call('HGET', key('job', id), 'u')) >= older
  if j and not keep then
    for _, dependent in ipairs(redis.call('ZRANGE', key('dependents', id), 0, -1)) do
      local s = redis.call('HGET', key('job', dependent), 's')
      if s and not FINAL[s] then
        keep = true
        break
      end
    end
  end
  if not j or j.s ~= state then
    redis.call('ZREM', in_state, id)  -- an index that outlived its job
  elseif keep then
    kept = kept + 1
  else
    unindex(j)
    local job = key('job', id)
    for dependency in string.gmatch(redis.call('HGET', job, 'd') or '', '%d+') do
      redis.call('ZREM', key('dependents', dependency), id)
    end
    redis.call('DEL', job, key('att', id), key('dependents', id))
    deleted = deleted + 1
  end
end
-- A queue left without jobs is no longer listed.
if deleted > 0 then
  local left = 0
  for _, s in ipairs({'waiting', 'delayed', 'blocked', 'active', 'completed', 'dead', 'cancelled'}) do
    left = left + redis.call('ZCARD', key('qstate', queue, s))
  end
  if left == 0 and redis.call('SISMEMBER', key('paused'), queue) == 0 then redis.call('SREM', key('queues'), queue) end
end
return {deleted, kept, #ids}
