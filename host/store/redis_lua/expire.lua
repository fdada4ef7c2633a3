-- expire: -> how many jobs not started by their expires_at became dead (their dependents not counted)
local ids = redis.call('ZRANGEBYSCORE', key('expiring'), '-inf', int(NOW))
table.sort(ids, function(a, b) return tonumber(a) < tonumber(b) end)
local count = 0
for _, id in ipairs(ids) do
  local j = load(id)
  if not j then
    redis.call('ZREM', key('expiring'), id)
  elseif j.x and j.x <= NOW and make_dead(j, EXPIRED) then
    count = count + 1
  end
end
return count
