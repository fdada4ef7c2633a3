-- publish_host: name, holder, version, queues (JSON), catalog (JSON) -> 1, or 0 when the holder
-- no longer holds the name
local name, holder, version, queues, catalog = arg(), arg(), arg(), arg(), arg()
local host = key('host', name)
local f = redis.call('HMGET', host, 'holder', 'stopped')
if f[1] ~= holder or f[2] then return 0 end
redis.call('HSET', host, 'version', version, 'queues', queues, 'catalog', catalog, 'catalog_at', int(NOW))
return 1
