-- finish_and_claim: end_attempt's arguments, then claim's -> {state applied or nil, claim or nil,
-- the claim's error or nil}. The finish stands when the claim fails.
local applied = end_attempt('finish')
local allowances = read_allowances()
local holder = arg()
local lease = tonumber(arg())
local ok, claimed = pcall(claim_next, allowances, holder, lease)
if ok then return {applied or false, claimed or false, false} end
if type(claimed) == 'table' then claimed = claimed.err end
return {applied or false, false, tostring(claimed)}
