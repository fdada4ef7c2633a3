-- claim: allowances (read_allowances), holder, lease (ms) -> {attempt id, number, job hash} or nil
local allowances = read_allowances()
local holder = arg()
local lease = tonumber(arg())
return claim_next(allowances, holder, lease) or false
