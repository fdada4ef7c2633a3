-- On opening: the layout version of the keys under the prefix, written when there is none.
-- The scripts need Redis 7.0 (XADD with an id of 0-*), which is the first to tell its version
-- to Lua.
if not redis.REDIS_VERSION_NUM or redis.REDIS_VERSION_NUM < 0x00070000 then
  error({err = 'ERR sandhost needs Redis 7.0 or newer'})
end
local ours = arg()
local stored = redis.call('HGET', key('meta'), 'layout')
if stored then return tonumber(stored) end
redis.call('HSET', key('meta'), 'layout', ours)
return tonumber(ours)
