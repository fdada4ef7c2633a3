-- set_paused: queue, '1' to pause or '0' to resume -> 1 when that changed something
local queue, paused = arg(), arg() == '1'
if paused then
  if redis.call('SADD', key('paused'), queue) == 0 then return 0 end
  event('queue.paused', nil, queue)
else
  if redis.call('SREM', key('paused'), queue) == 0 then return 0 end
  event('queue.resumed', nil, queue)
end
return 1
