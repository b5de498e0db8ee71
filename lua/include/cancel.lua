-- include: keys clock ttl prefetch
-- Canceling a job (RQ 2.10's cancel, and our dependency cascade).

local function cancel_job(id, reason)
  local key = job_key(id)
  local f = redis.call('HMGET', key, 'status', 'origin')
  local status, q = f[1], f[2]
  if status == false or status == 'canceled' then return false end
  if q ~= false then
    if redis.call('LREM', queue_key(q), 0, id) == 0 and status == 'queued' then drop_parked(id) end
    redis.call('ZREM', deferred_key(q), id)
    redis.call('ZREM', scheduled_key(q), id)
    redis.call('ZREM', finished_key(q), id)
    redis.call('ZREM', failed_key(q), id)
    redis.call('ZADD', canceled_key(q), NOW, id)
  end
  redis.call('HSET', key, 'status', 'canceled')
  if reason ~= nil then redis.call('HSET', key, 'cancel_reason', reason) end
  if reason == nil then
    -- an explicit cancel, as RQ 2.10's: the job is kept without a TTL
    redis.call('PERSIST', key)
  else
    -- Our cascade (RQ has none): kept as long as a failed job, never forever,
    -- so a chain of cancels cannot pile up jobs nobody asked to keep.
    local ttl = clean_ttl(redis.call('HGET', key, 'failure_ttl'), ONE_YEAR)
    if ttl < 0 then ttl = ONE_YEAR elseif ttl == 0 then ttl = 1 end
    redis.call('EXPIRE', key, ttl)
  end
  if q ~= false then
    -- RQ never cleans rq:canceled:<q>: a sample of its entries is checked on
    -- each cancel and those whose job is gone are dropped, so it stays
    -- bounded by the canceled jobs that still exist.
    local sample = redis.pcall('ZRANDMEMBER', canceled_key(q), 10)
    if type(sample) == 'table' and sample.err == nil then
      for _, old in ipairs(sample) do
        if redis.call('EXISTS', job_key(old)) == 0 then redis.call('ZREM', canceled_key(q), old) end
      end
    end
  end
  return true
end
