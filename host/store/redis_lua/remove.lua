-- remove: job id -> removed | not_finished | needed | not_found. A completed, dead or cancelled
-- job is deleted with its attempts, as purge deletes it, unless a job still to run depends on it.
local id = arg()
local j = load(id)
if not j then return 'not_found' end
if not FINAL[j.s] then return 'not_finished' end
if needed_by_dependents(id) then return 'needed' end
delete_final(j)
forget_queue_if_empty(j.q)
return 'removed'
