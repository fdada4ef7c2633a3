-- enqueue_job: a new job (read_new_job's arguments) -> {id, 1 when created}
local id, created = insert_job(read_new_job())
if created then return {id, 1} end
return {id, 0}
