-- Claims: the next runnable job among the queues a host may take from, with a lease.

-- The allowances from the arguments: their count, then for each its queue, the count of its
-- task patterns and the patterns, rate jobs, rate period (ms) and global concurrency (each ''
-- when unset). A queue named twice is claimed from as its first allowance says.
local function read_allowances()
  local list, seen = {}, {}
  local count = tonumber(arg())
  for _ = 1, count do
    local queue = arg()
    local tasks = {}
    for i = 1, tonumber(arg()) do tasks[i] = arg() end
    local rate_jobs, rate_per, global = tonumber(arg()), tonumber(arg()), tonumber(arg())
    if not seen[queue] then
      seen[queue] = true
      list[#list + 1] = {q = queue, tasks = tasks, rate_jobs = rate_jobs, rate_per = rate_per, global = global}
    end
  end
  return list
end

-- As model::task_allowed: "plugin.task", or "plugin.*" for every task of a plugin; no
-- patterns allow every task.
local function allowed(patterns, task)
  if #patterns == 0 then return true end
  local dot = string.find(task, '.', 1, true)
  for _, pattern in ipairs(patterns) do
    if pattern == task then return true end
    if dot and #pattern == dot + 1 and string.sub(pattern, dot) == '.*' and
        string.sub(pattern, 1, dot - 1) == string.sub(task, 1, dot - 1) then
      return true
    end
  end
  return false
end

-- Whether a claim may take from the queue now: not paused, under its rate (claims of every host
-- in the window (now - per, now]) and under its global concurrency.
local function claimable(allowance)
  if redis.call('SISMEMBER', key('paused'), allowance.q) == 1 then return false end
  if allowance.rate_jobs and allowance.rate_per then
    local window = key('rate', allowance.q)
    redis.call('ZREMRANGEBYSCORE', window, '-inf', int(NOW - allowance.rate_per))
    if redis.call('ZCARD', window) >= allowance.rate_jobs then return false end
  end
  if allowance.global and redis.call('ZCARD', key('qstate', allowance.q, 'active')) >= allowance.global then return false end
  return true
end

-- Delayed jobs of the queue and task that are due join its ready set (their state stays delayed
-- until a claim takes them). A thousand at a time keeps one claim short after a burst of them.
local function promote_due(queue, task)
  local delayed = key('delayed', queue, task)
  local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', int(NOW), 'LIMIT', 0, 1000)
  for _, id in ipairs(due) do
    local f = redis.call('HMGET', key('job', id), 'pr', 'r')
    redis.call('ZADD', key('ready', queue, task), 0, ready_member({id = id, pr = tonumber(f[1]), r = tonumber(f[2])}))
  end
  if #due > 0 then redis.call('ZREM', delayed, unpack(due)) end
end

-- The tasks of the queue an allowance may run: those named when its patterns are all exact,
-- else the queue's tasks that a pattern allows.
local function allowed_tasks(allowance)
  if #allowance.tasks > 0 then
    local exact = true
    for _, pattern in ipairs(allowance.tasks) do
      if string.sub(pattern, -2) == '.*' then exact = false end
    end
    if exact then return allowance.tasks end
  end
  local out = {}
  for _, task in ipairs(redis.call('SMEMBERS', key('qtasks', allowance.q))) do
    if allowed(allowance.tasks, task) then out[#out + 1] = task end
  end
  return out
end

-- The first job in claim order among the ready sets of the tasks each allowance allows, after
-- their due delayed jobs joined them: its ready member and set, or nil. A task left with no
-- waiting or delayed job leaves the queue's tasks.
local function first_ready(allowances)
  local best, best_set
  for _, allowance in ipairs(allowances) do
    for _, task in ipairs(allowed_tasks(allowance)) do
      promote_due(allowance.q, task)
      local set = key('ready', allowance.q, task)
      local first = redis.call('ZRANGE', set, 0, 0)[1]
      if first then
        if not best or first < best then best, best_set = first, set end
      elseif redis.call('ZCARD', key('delayed', allowance.q, task)) == 0 then
        redis.call('SREM', key('qtasks', allowance.q), task)
      end
    end
  end
  return best, best_set
end

-- Starts the next attempt of `j` (waiting or delayed): {attempt id, number, the job's hash}.
local function take(j, allowance, holder, lease)
  unindex(j)
  local job = key('job', j.id)
  local attempt = int(redis.call('INCR', key('seq', 'attempt')))
  local number = (j.n or 0) + 1
  -- A new attempt starts without the last one's progress (or a cancel request, which a job that
  -- ran again cannot have).
  if j.pp or j.cr then redis.call('HDEL', job, 'pp', 'pm', 'cr') end
  j.s, j.h, j.le, j.cr = 'active', holder, NOW + lease, false
  redis.call('HSET', job, 's', 'active', 'a', attempt, 'h', holder, 'le', int(j.le), 'u', int(NOW), 'st', int(NOW),
             'n', int(number), 'nr', int(j.nr + 1))
  index(j)
  if allowance.rate_jobs then redis.call('ZADD', key('rate', allowance.q), int(NOW), attempt) end
  event('job.started', j.id, j.q, j.t, holder, 'active', number)
  return {attempt, number, redis.call('HGETALL', job)}
end

-- The next runnable job of `allowances`, taken for `holder` until now + `lease` ms, or nil.
-- Jobs past their expires_at found on the way are made dead.
local function claim_next(allowances, holder, lease)
  local eligible = {}
  for _, allowance in ipairs(allowances) do
    if claimable(allowance) then eligible[#eligible + 1] = allowance end
  end
  if #eligible == 0 then return nil end
  while true do
    local member, set = first_ready(eligible)
    if not member then return nil end
    local id = int(tonumber(string.sub(member, 26)))
    local j = load(id)
    if not j or (j.s ~= 'waiting' and j.s ~= 'delayed') or ready_member(j) ~= member then
      redis.call('ZREM', set, member)  -- not a ready job (an index that outlived its job): drop it
    elseif j.x and j.x <= NOW then
      make_dead(j, EXPIRED)
    else
      local allowance
      for _, candidate in ipairs(eligible) do
        if candidate.q == j.q then allowance = candidate end
      end
      return take(j, allowance, holder, lease)
    end
  end
end
