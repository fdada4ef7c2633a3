-- On opening: the layout version of the keys under the prefix, written when there is none.
-- The scripts need Redis 7.0 (XADD with an id of 0-*), which is the first to tell its version
-- to Lua.
if not redis.REDIS_VERSION_NUM or redis.REDIS_VERSION_NUM < 0x00070000 then
  error({err = 'ERR sandhost needs Redis 7.0 or newer'})
end
local ours = arg()
local stored = redis.call('HGET', key('meta'), 'layout')
if stored and tonumber(stored) >= tonumber(ours) then return tonumber(stored) end
if stored and tonumber(stored) == 1 then
  -- Layout 1 -> 2: done:Q:S, the finished jobs by when they finished, for retention. Built
  -- once from the state indexes (one pass over the finished jobs).
  for _, queue in ipairs(redis.call('SMEMBERS', key('queues'))) do
    for _, state in ipairs({'completed', 'dead', 'cancelled'}) do
      for _, id in ipairs(redis.call('ZRANGE', key('qstate', queue, state), 0, -1)) do
        local updated = redis.call('HGET', key('job', id), 'u')
        if updated then redis.call('ZADD', key('done', queue, state), updated, id) end
      end
    end
  end
end
redis.call('HSET', key('meta'), 'layout', ours)
return tonumber(ours)
