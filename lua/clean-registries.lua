-- clean-registries: RQ's clean_registries for one queue, in bounded batches
-- so that no call stalls Redis: removes finished and failed entries whose
-- score (their expiry time) has passed, canceled and deferred entries whose
-- job hash is gone (their score is an insert time, their hash has no TTL
-- unless deleted), and empties rq:ready:<q> (RQ 3's ReadyJobRegistry, where a
-- Python dependent waits between release and enqueue) onto the queue.
-- Abandoned started entries are recover.lua's.
-- include: keys clock push
-- KEYS: none
-- ARGV: queue, batch size, canceled ZSCAN cursor ('0' to start),
--   deferred ZSCAN cursor ('0' to start)
-- Returns: { removed, canceled cursor, deferred cursor, more }: more is 1
--   when a batch was full (call again soon); cursors go back to the caller.
local q = ARGV[1]
local limit = tonumber(ARGV[2])
local removed = 0
local more = 0

-- Scores -1 and +inf mean "kept forever" (ttl -1): never expired.
for _, rk in ipairs({ finished_key(q), failed_key(q) }) do
  local ids = redis.call('ZRANGEBYSCORE', rk, 0, NOW, 'LIMIT', 0, limit)
  if #ids > 0 then
    redis.call('ZREM', rk, unpack(ids))
    removed = removed + #ids
    if #ids == limit then more = 1 end
  end
end

local function sweep_missing(rk, cursor)
  local r = redis.call('ZSCAN', rk, cursor, 'COUNT', limit)
  local gone = {}
  for i = 1, #r[2], 2 do
    if redis.call('EXISTS', job_key(r[2][i])) == 0 then table.insert(gone, r[2][i]) end
  end
  if #gone > 0 then
    redis.call('ZREM', rk, unpack(gone))
    removed = removed + #gone
  end
  if r[1] ~= '0' then more = 1 end
  return r[1]
end
local canceled_cursor = sweep_missing(canceled_key(q), ARGV[3] or '0')
local deferred_cursor = sweep_missing(deferred_key(q), ARGV[4] or '0')

local ready = P .. 'ready:' .. q
local ids = redis.call('ZRANGE', ready, 0, limit - 1)
for _, id in ipairs(ids) do
  redis.call('ZREM', ready, id)
  if redis.call('HGET', job_key(id), 'status') == 'ready_to_enqueue' then
    push_job(id, q, enqueue_at_front(id))
  end
  removed = removed + 1
end
if #ids == limit then more = 1 end

return { removed, canceled_cursor, deferred_cursor, more }
