-- unclaimable_tasks: allowances (read_allowances) -> {queue, task, ...}: the tasks of waiting
-- and delayed jobs that no pattern of their queue's allowance allows.
local out = {}
for _, allowance in ipairs(read_allowances()) do
  if #allowance.tasks > 0 then
    for _, task in ipairs(redis.call('SMEMBERS', key('qtasks', allowance.q))) do
      if not allowed(allowance.tasks, task) and
          redis.call('ZCARD', key('ready', allowance.q, task)) + redis.call('ZCARD', key('delayed', allowance.q, task)) > 0 then
        out[#out + 1] = allowance.q
        out[#out + 1] = task
      end
    end
  end
end
return out
