-- change: action (retry | cancel | promote), the number of jobs, their ids -> for each, in order:
-- 'changed', 'requested', 'skipped', or the refusal's message (a retry the single script refuses).
local action, count = arg(), tonumber(arg())
local run = {retry = retry_job, cancel = cancel_job, promote = promote_job}
local act = run[action]
if not act then request_error('no such action: ' .. tostring(action)) end
local CANCELLED = {cancelled = 'changed', requested = 'requested', already_final = 'skipped', not_found = 'skipped'}
local out = {}
for i = 1, count do
  local id = arg()
  local ok, result = pcall(act, id)
  -- Redis hands pcall a request_error's message as a string, not the table raised.
  local message = result
  if type(result) == 'table' then message = result.err end
  local at = type(message) == 'string' and string.find(message, 'SANDHOST_REQUEST ', 1, true)
  if ok then
    out[i] = CANCELLED[result] or result
  elseif at then
    -- A purged job is skipped, as the walk that listed it skips it; any other refusal says why.
    if redis.call('EXISTS', key('job', id)) == 1 then out[i] = 'refused ' .. string.sub(message, at + 17) else out[i] = 'skipped' end
  else
    error(result)
  end
end
return out
