-- include: keys
-- A job's results stream (RQ's Result.save), kept at its size.

-- Where a new results stream is built before it is copied to its key;
-- never left in the keyspace (add_result deletes it in the same call).
local RESULTS_SCRATCH = P .. 'results-scratch'

-- Appends one result to the job's results stream as RQ does (XADD ...
-- MAXLEN ~ 10), then gives the stream its TTL: ttl seconds when positive,
-- none otherwise (ttl_text: the same TTL as text, when the caller has it).
--
-- A stream's first XADD allocates a whole node (Redis pre-allocates
-- stream-node-max-bytes, 4096 by default), which one result of about 200
-- bytes never fills: kept for result_ttl, 500 s by default, each finished
-- job would hold 4.3 KB. A new stream is therefore built in a scratch key
-- and COPYed to its own, which duplicates each node at its used size:
-- about 0.45 KB per result, at half the Redis CPU of the DUMP and RESTORE
-- used before (bench/README, "Results streams"), and with less CPU than
-- the fresh memory a 4 KiB node per job touches. The scratch node is freed
-- at once and reused by the next call. Where COPY is refused (an ACL), the
-- stream is written as XADD makes it. A job that ran before (retries,
-- repeats) appends to its stream, whose node fills up anyway.
local function add_result(id, ttl, fields, ttl_text)
  local key = results_key(id)
  -- No EXISTS first: COPY without REPLACE answers 0 when the job already
  -- has a stream (a retry, a repeat), and the result is then appended. The
  -- scratch stream holds this one entry: nothing for MAXLEN to trim.
  redis.call('XADD', RESULTS_SCRATCH, '*', unpack(fields))
  local copied = redis.pcall('COPY', RESULTS_SCRATCH, key)
  redis.call('DEL', RESULTS_SCRATCH)
  if copied == 1 then
    if ttl > 0 then redis.call('EXPIRE', key, ttl_text or ttl) end
    return
  end
  redis.call('XADD', key, 'MAXLEN', '~', '10', '*', unpack(fields))
  if ttl > 0 then redis.call('EXPIRE', key, ttl_text or ttl) else redis.call('PERSIST', key) end
end
