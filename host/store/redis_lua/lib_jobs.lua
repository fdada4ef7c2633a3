-- Jobs and their indexes. A job is the hash PREFIXjob:ID; every index it is in follows from its
-- state, and only unindex() and index() change them:
--   queues                       the queues that have jobs (a set)
--   qstate:Q:S                   jobs of queue Q in state S           (sorted sets, score id; for
--                                active, the lease's expiry)
--   ready:Q:T                    waiting jobs of queue Q and task T, and delayed ones that are
--                                due, in claim order (score 0, member ready_member())
--   delayed:Q:T                  delayed jobs not known to be due     (score run_at)
--   done:Q:S                     finished jobs of queue Q in final state S (score: when they
--                                reached it, the job's u; retention trims them oldest first)
--   qtasks:Q                     the tasks that may have waiting or delayed jobs in Q (a set: a
--                                task whose two sets are empty is removed by the claim that sees it)
--   expiring                     not started jobs with a ttl          (score expires_at)
--   cancels:HOLDER               active jobs of a holder with a cancel request
--   key:Q:KEY                    the unfinished job holding an idempotency key
--   dependents:ID                jobs that depend on job ID           (score id; the job's field
--                                hd is 1 when there are any)
-- A job's hash also holds st: when its latest attempt was claimed (for a lost attempt's duration).
-- Each command counts: a claim and an attempt's end are the hot path, so a script reads a job's
-- fields once (load) and writes each hash once. The lease fields (a, h, le) stay on a job that
-- is no longer active: nothing reads them then.
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

-- What the indexes and the scripts read of a job, or nil when there is no job `id` (a string):
-- state, queue, task, priority, run_at, expires_at, key, holder, attempts, lease expiry, attempt
-- id, cancel requested, attempts since retry, progress, has dependents.
local function load(id)
  local f = redis.call('HMGET', key('job', id), 's', 'q', 't', 'pr', 'r', 'x', 'k', 'h', 'n', 'le', 'a', 'cr', 'nr', 'pp', 'hd',
                       'err')
  if not f[1] then return nil end
  return {id = id, s = f[1], q = f[2], t = f[3], pr = tonumber(f[4]), r = tonumber(f[5]), x = tonumber(f[6]),
          k = value(f[7]), h = value(f[8]), n = tonumber(f[9]), le = tonumber(f[10]), a = value(f[11]),
          cr = f[12] == '1', nr = tonumber(f[13]) or 0, pp = value(f[14]), hd = f[15] == '1', err = f[16] ~= false}
end

local function unindex(j)
  local s = j.s
  redis.call('ZREM', key('qstate', j.q, s), j.id)
  if s == 'waiting' or s == 'delayed' then
    redis.call('ZREM', key('ready', j.q, j.t), ready_member(j))
    if s == 'delayed' then redis.call('ZREM', key('delayed', j.q, j.t), j.id) end
  elseif s == 'active' and j.h and j.cr then
    redis.call('SREM', key('cancels', j.h), j.id)
  elseif FINAL[s] then
    redis.call('ZREM', key('done', j.q, s), j.id)
  end
  if j.x and NOT_STARTED[s] then redis.call('ZREM', key('expiring'), j.id) end
end

local function index(j)
  local s = j.s
  if s == 'active' then
    redis.call('ZADD', key('qstate', j.q, s), int(j.le), j.id)
  else
    redis.call('ZADD', key('qstate', j.q, s), j.id, j.id)
  end
  if s == 'waiting' or s == 'delayed' then
    if s == 'waiting' or j.r <= NOW then
      redis.call('ZADD', key('ready', j.q, j.t), 0, ready_member(j))
    else
      redis.call('ZADD', key('delayed', j.q, j.t), int(j.r), j.id)
    end
    redis.call('SADD', key('qtasks', j.q), j.t)
  elseif FINAL[s] then
    -- Every script that makes a job final stamps it updated NOW.
    redis.call('ZADD', key('done', j.q, s), int(NOW), j.id)
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
local function kill_dependents(j, why)
  if not j.hd then return end
  local pending = {{j.id, why}}
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
local function unblock_dependents(j)
  if not j.hd then return end
  for _, dependent in ipairs(redis.call('ZRANGE', key('dependents', j.id), 0, -1)) do
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
        if j.r > NOW then
          move(j, 'delayed')
        else
          -- It may run from now: behind the jobs due before it, its latency counted from now.
          j.r = NOW
          redis.call('HSET', key('job', dependent), 'r', int(NOW))
          move(j, 'waiting')
        end
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
  kill_dependents(j, 'dead')
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

-- Refuses the request when `unknown` (dependencies that are not jobs) is not empty; `prefix`
-- names the job of a batch.
local function refuse_unknown(unknown, prefix)
  if #unknown == 1 then request_error(prefix .. 'unknown dependency: no job ' .. unknown[1] .. '; nothing was enqueued') end
  if #unknown > 1 then
    request_error(prefix .. 'unknown dependencies: no jobs ' .. table.concat(unknown, ', ') .. '; nothing was enqueued')
  end
end

-- Appends `name` and `value` to an HSET's arguments, when there is a value.
local function add_field(fields, name, value)
  if value then
    fields[#fields + 1] = name
    fields[#fields + 1] = value
  end
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
  refuse_unknown(unknown, '')
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
  if nj.ttl then
    j.x = NOW + tonumber(nj.ttl)
    add_field(fields, 'ttl', nj.ttl)
    add_field(fields, 'x', int(j.x))
  end
  add_field(fields, 'to', nj.timeout)
  add_field(fields, 'ma', nj.max_attempts)
  add_field(fields, 'err', why)
  if nj.schedule ~= '' then add_field(fields, 'sc', nj.schedule) end
  add_field(fields, 'k', nj.k)
  if #deps > 0 then add_field(fields, 'd', table.concat(deps, ',')) end
  redis.call('HSET', unpack(fields))
  redis.call('SADD', key('queues'), nj.q)
  for _, dependency in ipairs(deps) do
    redis.call('ZADD', key('dependents', dependency), id, id)
    redis.call('HSET', key('job', dependency), 'hd', '1')
  end
  index(j)
  if nj.k and not FINAL[state] then redis.call('SET', key('key', nj.q, nj.k), id) end
  event('job.enqueued', id, nj.q, nj.t, nil, state)
  if state == 'dead' then event('job.finished', id, nj.q, nj.t, nil, 'dead', nil, why) end
  return id, true
end

-- Whether a job still to run depends on `id`: it needs that job's state and result.
local function needed_by_dependents(id)
  for _, dependent in ipairs(redis.call('ZRANGE', key('dependents', id), 0, -1)) do
    local s = redis.call('HGET', key('job', dependent), 's')
    if s and not FINAL[s] then return true end
  end
  return false
end

-- Deletes the final job `j` with its attempts and its place in every index.
local function delete_final(j)
  unindex(j)
  local job = key('job', j.id)
  for dependency in string.gmatch(redis.call('HGET', job, 'd') or '', '%d+') do
    redis.call('ZREM', key('dependents', dependency), j.id)
  end
  redis.call('DEL', job, key('att', j.id), key('dependents', j.id))
end

-- A queue left without jobs is no longer listed.
local function forget_queue_if_empty(queue)
  for _, s in ipairs({'waiting', 'delayed', 'blocked', 'active', 'completed', 'dead', 'cancelled'}) do
    if redis.call('ZCARD', key('qstate', queue, s)) > 0 then return end
  end
  if redis.call('SISMEMBER', key('paused'), queue) == 0 then redis.call('SREM', key('queues'), queue) end
end
