-- fire_schedule: name, fire time (ms), then a new job (read_new_job) -> the job's id, or nil
-- when a firing at or after that time is recorded (or this is the schedule's first sight).
local name, fire = arg(), arg()
local schedule = key('schedule', name)
local last = redis.call('HGET', schedule, 'last')
if not last then
  redis.call('HSET', schedule, 'last', fire, 'u', int(NOW))
  return false
end
if tonumber(last) >= tonumber(fire) then return false end
local nj = read_new_job()
if nj.schedule == '' then nj.schedule = name end
local id = insert_job(nj)
redis.call('HSET', schedule, 'last', fire, 'job', id, 'u', int(NOW))
return id
