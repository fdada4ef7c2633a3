-- The end of an attempt (finish, recover): its record and where its job goes, only while the
-- attempt still holds the job's lease (its attempt id is the fence).
--
-- Arguments: job id, attempt id, number, host, outcome kind, record (JSON), the attempt's own
-- result?, '1' when the result is the job's, next state, run_at?, the job's result?, error?,
-- '1' when it counts as lost, '1' when the attempt is refunded.
-- The attempt's fields in PREFIXatt:ID are NUMBER:id, :h (host), :o (outcome), :rec, :res,
-- :rij ('1': the result is the job's), :by (finish or recover) and :s (the state applied).
local function end_attempt(mode)
  local a = {id = arg(), attempt = arg(), number = arg(), host = arg(), kind = arg(), record = arg(), result = opt(),
             in_job = arg(), next = arg(), run_at = opt(), job_result = opt(), error = opt(), lost = arg(), refund = arg()}
  if a.next ~= 'completed' and a.next ~= 'waiting' and a.next ~= 'delayed' and a.next ~= 'dead' and a.next ~= 'cancelled' then
    request_error('an attempt cannot leave its job ' .. a.next)
  end
  local job = key('job', a.id)
  local attempts = key('att', a.id)
  local j = load(a.id)
  if not j or j.s ~= 'active' or j.a ~= a.attempt then
    if mode == 'finish' then
      -- The same finish again (its first call applied it, but its reply was lost): what it applied.
      local earlier = redis.call('HMGET', attempts, a.number .. ':id', a.number .. ':by', a.number .. ':rec', a.number .. ':s')
      if earlier[1] == a.attempt and earlier[2] == 'finish' and earlier[3] == a.record then return earlier[4] end
    end
    return nil
  end
  local next = a.next
  -- A cancel request outlives the attempt it interrupted: the job does not run again.
  if j.cr and (next == 'waiting' or next == 'delayed') then next = 'cancelled' end

  local n = int(j.n)
  local host = a.host
  if host == '' then host = j.h or '' end
  local record = {attempts, n .. ':id', a.attempt, n .. ':h', host, n .. ':o', a.kind, n .. ':rec', a.record,
                  n .. ':by', mode, n .. ':s', next}
  add_field(record, n .. ':res', a.result)
  if a.in_job == '1' then add_field(record, n .. ':rij', '1') end
  redis.call('HSET', unpack(record))

  unindex(j)
  local holder = j.h
  j.s = next
  local runs_again = next == 'waiting' or next == 'delayed'
  if runs_again then j.r = tonumber(a.run_at or int(NOW)) end
  -- Only a completed job has a result, so there is none to remove here.
  local fields = {job, 's', next, 'u', int(NOW), 'r', int(j.r)}
  local gone = {job}
  if j.cr then gone[#gone + 1] = 'cr' end
  if next == 'completed' then add_field(fields, 'res', a.job_result) end
  if a.error then
    add_field(fields, 'err', a.error)
  elseif next == 'completed' and j.err then
    gone[#gone + 1] = 'err'
  end
  if a.refund == '1' and j.nr > 0 then
    fields[#fields + 1] = 'nr'
    fields[#fields + 1] = int(j.nr - 1)
  end
  redis.call('HSET', unpack(fields))
  if #gone > 1 then redis.call('HDEL', unpack(gone)) end
  if a.lost == '1' then redis.call('HINCRBY', job, 'l', 1) end
  j.h = nil
  index(j)
  if next == 'completed' then
    unblock_dependents(j)
  elseif next == 'dead' or next == 'cancelled' then
    kill_dependents(j, next)
  end
  event('job.finished', a.id, j.q, j.t, holder, next, j.n, a.kind)
  return next
end
