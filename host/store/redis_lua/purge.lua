-- purge, one batch: state, older than (ms), offset, batch size -> {deleted, kept, examined}.
-- A kept job (one that a job not final yet depends on) stays in the range: the caller's next
-- batch starts after the kept ones.
local state, older, offset, batch = arg(), arg(), arg(), arg()
local ended = key('ended', state)
local ids = redis.call('ZRANGEBYSCORE', ended, '-inf', '(' .. older, 'LIMIT', offset, batch)
local deleted, kept = 0, 0
for _, id in ipairs(ids) do
  local j = load(id)
  if not j or j.s ~= state then
    redis.call('ZREM', ended, id)
  else
    local needed = false
    for _, dependent in ipairs(redis.call('ZRANGE', key('dependents', id), 0, -1)) do
      local s = redis.call('HGET', key('job', dependent), 's')
      if s and not FINAL[s] then
        needed = true
        break
      end
    end
    if needed then
      kept = kept + 1
    else
      unindex(j)
      local job = key('job', id)
      for dependency in string.gmatch(redis.call('HGET', job, 'd') or '', '%d+') do
        redis.call('ZREM', key('dependents', dependency), id)
      end
      redis.call('ZREM', key('jobs'), id)
      redis.call('ZREM', key('qjobs', j.q), id)
      redis.call('DEL', job, key('att', id), key('dependents', id))
      if redis.call('EXISTS', key('qjobs', j.q)) == 0 then redis.call('SREM', key('queues'), j.q) end
      deleted = deleted + 1
    end
  end
end
return {deleted, kept, #ids}
