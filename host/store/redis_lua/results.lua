-- results: job ids -> {id, result, ...} of those that completed
local out = {}
for i = 3, #ARGV do
  local f = redis.call('HMGET', key('job', ARGV[i]), 's', 'res')
  if f[1] == 'completed' then
    out[#out + 1] = ARGV[i]
    out[#out + 1] = f[2] or ''
  end
end
return out
