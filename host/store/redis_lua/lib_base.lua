-- Shared by every script. ARGV[1] is the key prefix, ARGV[2] the caller's clock (ms since the
-- epoch: a host's clock decides its leases, as with SQLite); a script's own arguments follow,
-- read in order with arg() and opt(). No script declares KEYS: the store runs on one server,
-- not on Redis Cluster.
local P = ARGV[1]
local NOW = tonumber(ARGV[2])
local argi = 2

local function arg()
  argi = argi + 1
  return ARGV[argi]
end

-- An optional argument: a presence flag ('1' or '0'), then the value.
local function opt()
  local present = arg()
  local value = arg()
  if present == '1' then return value end
  return nil
end

-- Integers as text. Every number given to redis.call goes through here: Lua prints large
-- numbers with an exponent.
local function int(n)
  return string.format('%d', n)
end

local function key(...)
  return P .. table.concat({...}, ':')
end

-- A request that makes no sense (StoreRequestError). Raised before a script's first write.
local function request_error(message)
  error({err = 'SANDHOST_REQUEST ' .. message})
end

-- The host name of a lease holder ("NAME/MACHINE:PID:RANDOM"): what precedes its last '/'.
local function host_of(holder)
  return string.match(holder, '^(.*)/') or holder
end

-- Appends an event to the feed. Its id is the next of a counter, so that ids are consecutive
-- and a reader sees a gap when it fell behind the trimming (at least 10,000 are kept). An
-- event that cannot be written is dropped rather than fail the change it describes.
local function event(kind, job, queue, task, host, state, attempt, detail)
  local id = redis.call('INCR', key('seq', 'event'))
  local fields = {key('events'), 'MAXLEN', '~', '10000', '0-' .. int(id), 'type', kind, 'at', int(NOW)}
  local function add(name, value)
    if value and value ~= '' then
      fields[#fields + 1] = name
      fields[#fields + 1] = value
    end
  end
  add('job', job)
  add('queue', queue)
  add('task', task)
  add('host', host)
  add('state', state)
  if attempt then add('attempt', int(attempt)) end
  add('detail', detail)
  redis.pcall('XADD', unpack(fields))
end
