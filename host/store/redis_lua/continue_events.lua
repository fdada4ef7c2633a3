-- continue_events: the other store's last event id, where the jobs came from -> the id of a
-- store.copied event above both that id and every event of this feed.
local after, from = tonumber(arg()), arg()
local last = 0
local newest = redis.call('XREVRANGE', key('events'), '+', '-', 'COUNT', 1)
if newest[1] then last = tonumber(string.match(newest[1][1], '%-(%d+)$')) end
local id = int(math.max(after, last) + 1)
redis.call('XADD', key('events'), 'MAXLEN', '~', '10000', '0-' .. id, 'type', 'store.copied', 'at', int(NOW), 'detail', from)
return tonumber(id)
