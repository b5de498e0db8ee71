-- empty: RQ's Queue.empty: removes every id from the queue and deletes those
-- jobs and their dependents sets, and so for its jobs parked by workers
-- (prefetch). Registries, scheduled and deferred jobs stay.
-- include: keys prefetch
-- KEYS: none
-- ARGV: queue
-- Returns: the number of ids removed from the queue.
local qk = queue_key(ARGV[1])
local ids = redis.call('LRANGE', qk, 0, -1)
redis.call('DEL', qk)
for i = 1, #ids, 500 do
  local keys = {}
  for j = i, math.min(i + 499, #ids) do
    table.insert(keys, job_key(ids[j]))
    table.insert(keys, dependents_key(ids[j]))
  end
  redis.call('DEL', unpack(keys))
end
-- Jobs of this queue parked by workers (prefetch) are queued jobs too.
local prefix_q = ARGV[1]
for _, w in ipairs(redis.call('ZRANGE', PREFETCHERS, 0, -1)) do
  local pk = prefetched_key(w)
  for _, m in ipairs(redis.call('LRANGE', pk, 0, -1)) do
    local id = string.match(m, '^(.*):[^:]*$')
    if id and redis.call('HGET', job_key(id), 'origin') == prefix_q and redis.call('HGET', job_key(id), 'status') == 'queued' then
      redis.call('LREM', pk, 1, m)
      redis.call('DEL', job_key(id), dependents_key(id))
      redis.call('PUBLISH', P .. 'pubsub:' .. w, cjson.encode({ command = 'drop-prefetched', job_id = id }))
      table.insert(ids, id)
    end
  end
end
return #ids
