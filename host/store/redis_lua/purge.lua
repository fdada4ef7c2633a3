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
  if not j or j.s ~= state then
    redis.call('ZREM', in_state, id)  -- an index that outlived its job
  elseif tonumber(redis.call('HGET', key('job', id), 'u')) >= older or needed_by_dependents(id) then
    kept = kept + 1
  else
    delete_final(j)
    deleted = deleted + 1
  end
end
if deleted > 0 then forget_queue_if_empty(queue) end
return {deleted, kept, #ids}
