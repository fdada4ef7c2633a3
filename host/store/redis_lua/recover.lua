-- recover: end_attempt's arguments -> the state applied, or nil when another recoverer won
return end_attempt('recover') or false
