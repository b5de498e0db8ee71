-- schedule: the scheduler's pass over one queue: moves every job due by now
-- from rq:scheduled:<q> to its queue, but only while the caller still holds
-- rq:scheduler-lock:<q>, so two schedulers never both enqueue a job.
-- include: keys clock push
-- KEYS: none
-- ARGV: queue, scheduler name (lock owner), max jobs per pass
-- Returns: {moved count, next due score or '', Redis' now}; moved is -1 when
--   the lock is not ours.
local q, owner = ARGV[1], ARGV[2]
if redis.call('GET', P .. 'scheduler-lock:' .. q) ~= owner then return { -1, '', NOW_FS } end
local sk = scheduled_key(q)
local due = redis.call('ZRANGEBYSCORE', sk, '-inf', NOW_F, 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(due) do
  redis.call('ZREM', sk, id)
  if redis.call('EXISTS', job_key(id)) == 1 then
    push_job(id, q, enqueue_at_front(id))
  end
end
local nxt = redis.call('ZRANGE', sk, 0, 0, 'WITHSCORES')
return { #due, nxt[2] or '', NOW_FS }
