-- promote: job id -> 1 when the delayed job may run now, 0 when it is in another state
local id = arg()
local j = load(id)
if not j then request_error('no job ' .. id) end
if j.s ~= 'delayed' then return 0 end
-- Out of delayed:Q:T (or ready:Q:T when known to be due) by its old run_at, in again by the new.
unindex(j)
-- Due already: it keeps its place in the claim order.
if j.r > NOW then j.r = NOW end
j.s = 'waiting'
redis.call('HSET', key('job', id), 's', j.s, 'r', int(j.r), 'u', int(NOW))
index(j)
event('job.enqueued', id, j.q, j.t, nil, j.s, nil, 'promoted')
return 1
