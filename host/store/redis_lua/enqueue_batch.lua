-- enqueue_jobs: a count, then that many new jobs (read_new_job's arguments) -> {id, 1 when
-- created, id, ...}, in order. A script is not rolled back by an error raised halfway, so every
-- job's dependencies are checked before anything is written: one refused job stores none.
local count = tonumber(arg())
local jobs = {}
for i = 1, count do jobs[i] = read_new_job() end
for i, nj in ipairs(jobs) do
  local unknown = {}
  for _, dependency in ipairs(nj.deps) do
    if redis.call('EXISTS', key('job', dependency)) == 0 then unknown[#unknown + 1] = dependency end
  end
  refuse_unknown(unknown, 'job ' .. (i - 1) .. ': ')
end
local out = {}
for _, nj in ipairs(jobs) do
  local id, created = insert_job(nj)
  out[#out + 1] = id
  out[#out + 1] = created and 1 or 0
end
return out
