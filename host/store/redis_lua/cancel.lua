-- cancel: job id -> cancelled | requested | already_final | not_found
local id = arg()
local j = load(id)
if not j then return 'not_found' end
if FINAL[j.s] then return 'already_final' end
if j.s == 'active' then
  redis.call('HSET', key('job', id), 'cr', '1', 'u', int(NOW))
  if j.h then redis.call('SADD', key('cancels', j.h), id) end
  return 'requested'
end
move(j, 'cancelled')
event('job.finished', id, j.q, j.t, nil, 'cancelled', nil, 'cancelled')
kill_dependents(j, 'cancelled')
return 'cancelled'
