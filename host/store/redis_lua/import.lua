-- import_jobs: jobs copied from another store, kept as they were there (Store::import_jobs) ->
-- how many. Arguments: the number of jobs, then for each: id, queue, task, payload, priority,
-- state, created, updated, run_at, attempts, attempts since retry, lost, ttl?, expires_at?,
-- timeout?, max_attempts?, result?, error?, progress percent?, progress message?, schedule,
-- key?, the number of dependencies and their ids, the number of attempts and for each: id,
-- number, host, outcome kind, record (JSON), its own result?, '1' when its result is the job's.
local count = tonumber(arg())
local jobs, seen = {}, {}
for i = 1, count do
  local j = {id = arg(), q = arg(), t = arg(), p = arg(), pr = arg(), s = arg(), c = arg(), u = arg(), r = arg(), n = arg(),
             nr = arg(), l = arg(), ttl = opt(), x = opt(), to = opt(), ma = opt(), res = opt(), err = opt(), pp = opt(),
             pm = opt(), sc = arg(), k = opt(), deps = {}, attempts = {}}
  for d = 1, tonumber(arg()) do j.deps[d] = arg() end
  for a = 1, tonumber(arg()) do
    j.attempts[a] = {id = arg(), number = arg(), host = arg(), kind = arg(), record = arg(), result = opt(), in_job = arg()}
  end
  if not NOT_STARTED[j.s] and not FINAL[j.s] then
    request_error('job ' .. j.id .. ' is ' .. j.s .. ': a running job is not copied; nothing was imported')
  end
  if seen[j.id] or redis.call('EXISTS', key('job', j.id)) == 1 then
    request_error('job ' .. j.id .. ' is already in this store; nothing was imported')
  end
  seen[j.id] = true
  jobs[i] = j
end

local seq = {job = 0, attempt = 0}
for _, j in ipairs(jobs) do
  local fields = {key('job', j.id), 'id', j.id, 'q', j.q, 't', j.t, 'p', j.p, 'pr', j.pr, 's', j.s, 'c', j.c, 'u', j.u, 'r', j.r,
                  'n', j.n, 'nr', j.nr, 'l', j.l}
  add_field(fields, 'ttl', j.ttl)
  add_field(fields, 'x', j.x)
  add_field(fields, 'to', j.to)
  add_field(fields, 'ma', j.ma)
  add_field(fields, 'res', j.res)
  add_field(fields, 'err', j.err)
  add_field(fields, 'pp', j.pp)
  add_field(fields, 'pm', j.pm)
  if j.sc ~= '' then add_field(fields, 'sc', j.sc) end
  add_field(fields, 'k', j.k)
  if #j.deps > 0 then add_field(fields, 'd', table.concat(j.deps, ',')) end
  -- Its dependents may have come first.
  if redis.call('EXISTS', key('dependents', j.id)) == 1 then add_field(fields, 'hd', '1') end
  redis.call('HSET', unpack(fields))
  redis.call('SADD', key('queues'), j.q)
  for _, dependency in ipairs(j.deps) do
    redis.call('ZADD', key('dependents', dependency), j.id, j.id)
    if redis.call('EXISTS', key('job', dependency)) == 1 then redis.call('HSET', key('job', dependency), 'hd', '1') end
  end
  if FINAL[j.s] then
    -- Finished when it was last updated there: retention counts from then.
    redis.call('ZADD', key('qstate', j.q, j.s), j.id, j.id)
    redis.call('ZADD', key('done', j.q, j.s), j.u, j.id)
  else
    index({id = j.id, s = j.s, q = j.q, t = j.t, pr = tonumber(j.pr), r = tonumber(j.r), x = tonumber(j.x), k = j.k})
    if j.k then redis.call('SET', key('key', j.q, j.k), j.id) end
  end
  if #j.attempts > 0 then
    local record = {key('att', j.id)}
    for _, a in ipairs(j.attempts) do
      local n = a.number
      add_field(record, n .. ':id', a.id)
      add_field(record, n .. ':h', a.host)
      add_field(record, n .. ':o', a.kind)
      add_field(record, n .. ':rec', a.record)
      add_field(record, n .. ':res', a.result)
      if a.in_job == '1' then add_field(record, n .. ':rij', '1') end
      seq.attempt = math.max(seq.attempt, tonumber(a.id))
    end
    redis.call('HSET', unpack(record))
  end
  seq.job = math.max(seq.job, tonumber(j.id))
end
-- New jobs and attempts of this store are numbered above every copied one.
for name, highest in pairs(seq) do
  local counter = key('seq', name)
  if tonumber(redis.call('GET', counter) or '0') < highest then redis.call('SET', counter, int(highest)) end
end
return count
