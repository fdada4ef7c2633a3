-- trim, retention of one queue and one final state: queue, state, older than (ms, or -1: no
-- age limit), count (or -1: no count limit), batch -> deleted. Walks done:Q:S oldest first;
-- a job goes while it is older than `older` or more than `count` newer ones stay, unless a
-- job still to run depends on it (kept, and walked past). Deletes at most `batch` and looks
-- at no more than four batches' worth, so that one call stays short.
local queue, state, older, count, batch = arg(), arg(), tonumber(arg()), tonumber(arg()), tonumber(arg())
local done = key('done', queue, state)
local deleted, kept, examined = 0, 0, 0
while deleted < batch and examined < 4 * batch do
  local entry = redis.call('ZRANGE', done, kept, kept, 'WITHSCORES')
  if #entry == 0 then break end
  local id, at = entry[1], tonumber(entry[2])
  local too_old = older >= 0 and at < older
  local too_many = count >= 0 and redis.call('ZCARD', done) - kept > count
  if not too_old and not too_many then break end
  examined = examined + 1
  local j = load(id)
  if not j or j.s ~= state or j.q ~= queue then
    redis.call('ZREM', done, id)  -- an index that outlived its job
  elseif needed_by_dependents(id) then
    kept = kept + 1
  else
    delete_final(j)
    deleted = deleted + 1
  end
end
if deleted > 0 then forget_queue_if_empty(queue) end
return deleted
