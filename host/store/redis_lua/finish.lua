-- finish: end_attempt's arguments -> the state applied, or nil when the lease is stale
return end_attempt('finish') or false
