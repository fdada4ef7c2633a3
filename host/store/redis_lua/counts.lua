-- queue_counts: how many queues are named, their names -> for each queue with jobs, a pause
-- flag or a name: {queue, paused (0 or 1), then its count in each state of `states`, then the
-- earliest run_at of its waiting and delayed jobs (-1 when it has none)}
local states = {'waiting', 'delayed', 'blocked', 'active', 'completed', 'dead', 'cancelled'}
local queues, seen, paused = {}, {}, {}
local function add(queue)
  if not seen[queue] then
    seen[queue] = true
    queues[#queues + 1] = queue
  end
end
for _ = 1, tonumber(arg()) do add(arg()) end
for _, queue in ipairs(redis.call('SMEMBERS', key('queues'))) do add(queue) end
for _, queue in ipairs(redis.call('SMEMBERS', key('paused'))) do
  add(queue)
  paused[queue] = true
end
-- Per task, the first member of each priority band of ready:Q:T (members sort by priority,
-- then run_at: see ready_member) and the first of delayed:Q:T (by run_at): a read per priority
-- present. A task's priorities are few; past K_BANDS of them its lower bands are not read (the
-- figure may then be later than the truth), so that the script stays short.
local K_BANDS = 1000
local function earliest_due(queue)
  local earliest = -1
  local function consider(run_at)
    if earliest < 0 or run_at < earliest then earliest = run_at end
  end
  for _, task in ipairs(redis.call('SMEMBERS', key('qtasks', queue))) do
    local ready = key('ready', queue, task)
    local from = '-'
    for _ = 1, K_BANDS do
      local first = redis.call('ZRANGE', ready, from, '+', 'BYLEX', 'LIMIT', 0, 1)[1]
      if not first then break end
      consider(tonumber(string.sub(first, 11, 25)))
      -- Past every member of this priority: digits sort before ':'.
      from = '(' .. string.sub(first, 1, 10) .. ':'
    end
    local delayed = redis.call('ZRANGE', key('delayed', queue, task), 0, 0, 'WITHSCORES')
    if delayed[2] then consider(tonumber(delayed[2])) end
  end
  return earliest
end

local out = {}
for _, queue in ipairs(queues) do
  local entry = {queue, paused[queue] and 1 or 0}
  for _, state in ipairs(states) do entry[#entry + 1] = redis.call('ZCARD', key('qstate', queue, state)) end
  if entry[3] + entry[4] > 0 then entry[#entry + 1] = earliest_due(queue) else entry[#entry + 1] = -1 end
  out[#out + 1] = entry
end
return out
