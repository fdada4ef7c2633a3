-- Jobs and their indexes. A job is the hash PREFIXjob:ID; every index it is in follows from its
-- state, and only unindex() and index() change them:
--   jobs, qjobs:Q                every job (by id), of queue Q        (sorted sets, score id)
--   state:S, qstate:Q:S          jobs in state S, of queue Q in S     (score id)
--   ready:Q:T                    waiting jobs of queue Q and task T, and delayed ones that are
--                                due, in claim order (score 0, member ready_member())
--   delayed:Q                    delayed jobs not known to be due     (score run_at)
--   qtasks:Q                     task -> how many waiting and delayed jobs (hash)
--   expiring                     not started jobs with a ttl          (score expires_at)
--   leases                       active jobs                          (score lease expiry)
--   held:HOST, cancels:HOLDER    active jobs of a host name, with a cancel request of a holder
--   ended:S                      final jobs in state S                (score updated_at)
--   key:Q:KEY                    the unfinished job holding an idempotency key
--   dependents:ID                jobs that depend on job ID           (score id)
local FINAL = {completed = true, dead = true, cancelled = true}
local NOT_STARTED = {waiting = true, delayed = true, blocked = true}
local EXPIRED = 'expired: not started within its ttl'

-- The claim order as one string of digits that sorts bytewise: priority (higher first), then
-- run_at, then id.
local function ready_member(j)
  return string.format('%010d%015d%016d', 2147483647 - j.pr, math.max(j.r, 0), tonumber(j.id))
end

local function value(v)
  if v then return v end
  return nil
end

-- What the indexes of a job depend on, or nil when there is no job `id` (a string).
local function load(id)
  local f = redis.call('HMGET', key('job', id), 's', 'q', 't', 'pr', 'r', 'x', 'k', 'h', 'n', 'le')
  if not f[1] then return nil end
  return {id = id, s = f[1], q = f[2], t = f[3], pr = tonumber(f[4]), r = tonumber(f[5]), x = tonumber(f[6]),
          k = value(f[7]), h = value(f[8]), n = tonumber(f[9]), le = tonumber(f[10])}
end

local function unindex(j)
  local s = j.s
  redis.call('ZREM', key('state', s), j.id)
  redis.call('ZREM', key('qstate', j.q, s), j.id)
  if s == 'waiting' or s == 'delayed' then
    redis.call('ZREM', key('ready', j.q, j.t), ready_member(j))
    if s == 'delayed' then redis.call('ZREM', key('delayed', j.q), j.id) end
    if redis.call('HINCRBY', key('qtasks', j.q), j.t, -1) <= 0 then redis.call('HDEL', key('qtasks', j.q), j.t) end
  elseif s == 'active' then
    redis.call('ZREM', key('leases'), j.id)
    if j.h then
      redis.call('SREM', key('held', host_of(j.h)), j.id)
      redis.call('SREM', key('cancels', j.h), j.id)
    end
  elseif FINAL[s] then
    redis.call('ZREM', key('ended', s), j.id)
  end
  if j.x and NOT_STARTED[s] then redis.call('ZREM', key('expiring'), j.id) end
end

local function index(j)
  local s = j.s
  redis.call('ZADD', key('state', s), j.id, j.id)
  redis.call('ZADD', key('qstate', j.q, s), j.id, j.id)
  if s == 'waiting' or s == 'delayed' then
    if s == 'waiting' or j.r <= NOW then
      redis.call('ZADD', key('ready', j.q, j.t), 0, ready_member(j))
    else
      redis.call('ZADD', key('delayed', j.q), int(j.r), j.id)
    end
    redis.call('HINCRBY', key('qtasks', j.q), j.t, 1)
  elseif s == 'active' then
    redis.call('ZADD', key('leases'), int(j.le), j.id)
    redis.call('SADD', key('held', host_of(j.h)), j.id)
  elseif FINAL[s] then
    redis.call('ZADD', key('ended', s), int(NOW), j.id)
    if j.k then
      local held = key('key', j.q, j.k)
      if redis.call('GET', held) == j.id then redis.call('DEL', held) end
    end
  end
  if j.x and NOT_STARTED[s] then redis.call('ZADD', key('expiring'), int(j.x), j.id) end
end

-- The job's state becomes `s`, updated now.
local function move(j, s)
  unindex(j)
  j.s = s
  redis.call('HSET', key('job', j.id), 's', s, 'u', int(NOW))
  index(j)
end

local function dependency_error(dependency, state)
  if state == 'cancelled' then return 'dependency ' .. dependency .. ' was cancelled' end
  return 'dependency ' .. dependency .. ' is dead'
end

-- `id` became dead or cancelled (`why`): its blocked dependents can never run, nor theirs.
local function kill_dependents(id, why)
  local pending = {{id, why}}
  while #pending > 0 do
    local ended = table.remove(pending)
    for _, dependent in ipairs(redis.call('ZRANGE', key('dependents', ended[1]), 0, -1)) do
      local j = load(dependent)
      if j and j.s == 'blocked' then
        local reason = dependency_error(ended[1], ended[2])
        redis.call('HSET', key('job', dependent), 'err', reason)
        move(j, 'dead')
        event('job.finished', dependent, j.q, j.t, nil, 'dead', nil, reason)
        pending[#pending + 1] = {dependent, 'dead'}
      end
    end
  end
end

-- `id` completed: dependents whose dependencies all completed may run (delayed while their own
-- delay runs). A dependency that no longer exists holds nobody back.
local function unblock_dependents(id)
  for _, dependent in ipairs(redis.call('ZRANGE', key('dependents', id), 0, -1)) do
    local j = load(dependent)
    if j and j.s == 'blocked' then
      local ready = true
      for dependency in string.gmatch(redis.call('HGET', key('job', dependent), 'd') or '', '%d+') do
        local state = redis.call('HGET', key('job', dependency), 's')
        if state and state ~= 'completed' then
          ready = false
          break
        end
      end
      if ready then
        if j.r > NOW then move(j, 'delayed') else move(j, 'waiting') end
      end
    end
  end
end

-- A job not started yet becomes dead (`why`), and its blocked dependents with it. false when
-- it had started or ended.
local function make_dead(j, why)
  if not NOT_STARTED[j.s] then return false end
  redis.call('HSET', key('job', j.id), 'err', why)
  move(j, 'dead')
  event('job.finished', j.id, j.q, j.t, nil, 'dead', nil, why)
  kill_dependents(j.id, 'dead')
  return true
end

-- A NewJob from the arguments: queue, task, payload, priority, delay?, timeout?, max_attempts?,
-- ttl?, schedule, key?, then the number of dependencies and their ids.
local function read_new_job()
  local nj = {q = arg(), t = arg(), p = arg(), pr = arg(), delay = opt(), timeout = opt(), max_attempts = opt(),
              ttl = opt(), schedule = arg(), k = opt(), deps = {}}
  local count = tonumber(arg())
  for i = 1, count do nj.deps[i] = arg() end
  return nj
end

-- Stores a new job: its id and true, or the unfinished job holding its key and false. Checks
-- everything before it writes: an unknown dependency raises a request error.
local function insert_job(nj)
  if nj.k then
    local holder = redis.call('GET', key('key', nj.q, nj.k))
    if holder then
      local state = redis.call('HGET', key('job', holder), 's')
      if state and not FINAL[state] then return holder, false end
    end
  end
  local deps, seen, unknown, states = {}, {}, {}, {}
  for _, dependency in ipairs(nj.deps) do
    if not seen[dependency] then
      seen[dependency] = true
      deps[#deps + 1] = dependency
    end
  end
  for i, dependency in ipairs(deps) do
    local state = redis.call('HGET', key('job', dependency), 's')
    if state then states[i] = state else unknown[#unknown + 1] = dependency end
  end
  if #unknown == 1 then request_error('unknown dependency: no job ' .. unknown[1] .. '; nothing was enqueued') end
  if #unknown > 1 then
    request_error('unknown dependencies: no jobs ' .. table.concat(unknown, ', ') .. '; nothing was enqueued')
  end
  local state, why = 'waiting', nil
  for i, dependency in ipairs(deps) do
    if states[i] == 'dead' or states[i] == 'cancelled' then
      state, why = 'dead', dependency_error(dependency, states[i])
      break
    end
    if states[i] ~= 'completed' then state = 'blocked' end
  end
  local delay = math.max(tonumber(nj.delay or '0'), 0)
  if state == 'waiting' and delay > 0 then state = 'delayed' end

  local id = int(redis.call('INCR', key('seq', 'job')))
  local j = {id = id, s = state, q = nj.q, t = nj.t, pr = tonumber(nj.pr), r = NOW + delay, k = nj.k}
  local fields = {key('job', id), 'id', id, 'q', nj.q, 't', nj.t, 'p', nj.p, 'pr', nj.pr, 's', state, 'c', int(NOW), 'u', int(NOW),
                  'r', int(j.r), 'n', '0', 'nr', '0', 'l', '0'}
  local function add(name, value)
    if value then
      fields[#fields + 1] = name
      fields[#fields + 1] = value
    end
  end
  if nj.ttl then
    j.x = NOW + tonumber(nj.ttl)
    add('ttl', nj.ttl)
    add('x', int(j.x))
  end
  add('to', nj.timeout)
  add('ma', nj.max_attempts)
  add('err', why)
  if nj.schedule ~= '' then add('sc', nj.schedule) end
  add('k', nj.k)
  if #deps > 0 then add('d', table.concat(deps, ',')) end
  redis.call('HSET', unpack(fields))
  redis.call('ZADD', key('jobs'), id, id)
  redis.call('ZADD', key('qjobs', nj.q), id, id)
  redis.call('SADD', key('queues'), nj.q)
  for _, dependency in ipairs(deps) do redis.call('ZADD', key('dependents', dependency), id, id) end
  index(j)
  if nj.k and not FINAL[state] then redis.call('SET', key('key', nj.q, nj.k), id) end
  event('job.enqueued', id, nj.q, nj.t, nil, state)
  if state == 'dead' then event('job.finished', id, nj.q, nj.t, nil, 'dead', nil, why) end
  return id, true
end
