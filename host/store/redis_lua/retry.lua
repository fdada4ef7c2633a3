-- retry: job id -> 1 when the dead or cancelled job runs again, 0 when it is in another state
local id = arg()
local j = load(id)
if not j then request_error('no job ' .. id) end
if j.s ~= 'dead' and j.s ~= 'cancelled' then return 0 end
local job = key('job', id)
local all_completed = true
for dependency in string.gmatch(redis.call('HGET', job, 'd') or '', '%d+') do
  local state = redis.call('HGET', key('job', dependency), 's')
  if not state then
    request_error('job ' .. id .. ' cannot run again: its dependency ' .. dependency .. ' was purged')
  end
  if state == 'dead' or state == 'cancelled' then
    request_error('job ' .. id .. ' cannot run again while its ' .. dependency_error(dependency, state) ..
                  '; retry that job first')
  end
  if state ~= 'completed' then all_completed = false end
end
if j.k then
  -- At most one unfinished job holds a key.
  local holder = redis.call('GET', key('key', j.q, j.k))
  if holder and holder ~= id then
    local state = redis.call('HGET', key('job', holder), 's')
    if state and not FINAL[state] then
      request_error('job ' .. id .. ' cannot run again while job ' .. holder .. ' with the same key is unfinished')
    end
  end
end
local ttl = redis.call('HGET', job, 'ttl')
unindex(j)
if all_completed then j.s = 'waiting' else j.s = 'blocked' end
j.r = NOW
local fields = {job, 's', j.s, 'r', int(NOW), 'u', int(NOW), 'nr', '0', 'l', '0'}
if ttl then
  j.x = NOW + tonumber(ttl)
  fields[#fields + 1] = 'x'
  fields[#fields + 1] = int(j.x)
end
redis.call('HSET', unpack(fields))
redis.call('HDEL', job, 'err', 'res', 'cr', 'pp', 'pm')
index(j)
if j.k then redis.call('SET', key('key', j.q, j.k), id) end
event('job.enqueued', id, j.q, j.t, nil, j.s, nil, 'retried')
return 1
