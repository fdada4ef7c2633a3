-- list: queue?, state?, limit (0: none) -> the hashes of the newest matching jobs, newest first
local queue, state, limit = opt(), opt(), tonumber(arg())
local index
if queue and state then
  index = key('qstate', queue, state)
elseif queue then
  index = key('qjobs', queue)
elseif state then
  index = key('state', state)
else
  index = key('jobs')
end
local last = -1
if limit > 0 then last = limit - 1 end
local out = {}
for i, id in ipairs(redis.call('ZREVRANGE', index, 0, last)) do out[i] = redis.call('HGETALL', key('job', id)) end
return out
