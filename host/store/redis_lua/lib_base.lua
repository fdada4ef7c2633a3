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

-- PREFIXa, PREFIXa:b or PREFIXa:b:c.
local function key(a, b, c)
  if c then return P .. a .. ':' .. b .. ':' .. c end
  if b then return P .. a .. ':' .. b end
  return P .. a
end

-- A request that makes no sense (StoreRequestError). Raised before a script's first write.
local function request_error(message)
  error({err = 'SANDHOST_REQUEST ' .. message})
end

-- Appends an event to the feed. Its id is 0-N with N one more than the last one's (Redis 7),
-- so that ids are consecutive and a reader sees a gap when it fell behind the trimming (at
-- least 10,000 are kept). An event that cannot be written is dropped rather than fail the
-- change it describes.
local function event(kind, job, queue, task, host, state, attempt, detail)
  local fields = {key('events'), 'MAXLEN', '~', '10000', '0-*', 'type', kind, 'at', int(NOW)}
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

-- The ids of a queue-and-state set other than active (those are scored by id), newest first,
-- below the id `before` (nil: from the newest), that `wanted(id)` takes (id a string), at most
-- `limit` (0: every one). Read in chunks only as far as that needs: a page deep in a large set
-- costs what the first one does.
local function newest_ids(set, before, limit, wanted)
  local size = 500
  if limit > 0 and limit < size then size = limit end
  local ids, from = {}, '+inf'
  if before then from = '(' .. before end
  while limit == 0 or #ids < limit do
    local chunk = redis.call('ZRANGE', set, from, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, size)
    for _, id in ipairs(chunk) do
      if (limit == 0 or #ids < limit) and wanted(id) then ids[#ids + 1] = tonumber(id) end
    end
    if #chunk < size then break end
    from = '(' .. chunk[#chunk]
  end
  return ids
end
