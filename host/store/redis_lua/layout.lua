-- On opening: the layout version of the keys under the prefix, written when there is none.
local ours = arg()
local stored = redis.call('HGET', key('meta'), 'layout')
if stored then return tonumber(stored) end
redis.call('HSET', key('meta'), 'layout', ours)
return tonumber(ours)
