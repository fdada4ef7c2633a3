-- retry, cancel and promote of one job, for their scripts and for change.lua, which runs one of
-- them on many jobs in one step. Every refusal (request_error) comes before the job's first
-- write, so a step that catches one goes on with the other jobs, the refused one untouched.

-- The dead or cancelled job `id` runs again: 'changed', or 'skipped' in another state.
local function retry_job(id)
  local j = load(id)
  if not j then request_error('no job ' .. id) end
  if j.s ~= 'dead' and j.s ~= 'cancelled' then return 'skipped' end
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
  return 'changed'
end

-- 'cancelled', 'requested' (it runs: its host is asked to stop it), 'already_final' or 'not_found'.
local function cancel_job(id)
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
end

-- The delayed job `id` may run now: 'changed', or 'skipped' in another state.
local function promote_job(id)
  local j = load(id)
  if not j then request_error('no job ' .. id) end
  if j.s ~= 'delayed' then return 'skipped' end
  -- Out of delayed:Q:T (or ready:Q:T when known to be due) by its old run_at, in again by the new.
  unindex(j)
  -- Due already: it keeps its place in the claim order.
  if j.r > NOW then j.r = NOW end
  j.s = 'waiting'
  redis.call('HSET', key('job', id), 's', j.s, 'r', int(j.r), 'u', int(NOW))
  index(j)
  event('job.enqueued', id, j.q, j.t, nil, j.s, nil, 'promoted')
  return 'changed'
end
