-- include: keys
-- A job's results stream (RQ's Result.save), kept at its size.

-- Appends one result to the job's results stream as RQ does (XADD ...
-- MAXLEN ~ 10), then gives the stream its TTL: ttl seconds when positive,
-- none otherwise.
--
-- A stream's first XADD allocates a whole node (Redis pre-allocates
-- stream-node-max-bytes, 4096 by default), which one result of about 200
-- bytes never fills: kept for result_ttl, 500 s by default, each finished
-- job would hold 4.4 KB. A new stream is therefore rebuilt at its size with
-- DUMP and RESTORE, which also sets the TTL: about 0.5 KB per result, and
-- less Redis CPU than the fresh memory the 4 KiB node touches (bench/README,
-- "Results streams"). Where DUMP or RESTORE is refused (an ACL), the stream
-- stays as XADD made it. Only a one-entry stream is rebuilt: a job that
-- ran before (retries, repeats) appends to a node that fills up anyway.
local function add_result(id, ttl, fields)
  local key = results_key(id)
  redis.call('XADD', key, 'MAXLEN', '~', 10, '*', unpack(fields))
  if redis.call('XLEN', key) == 1 then
    local dump = redis.pcall('DUMP', key)
    if type(dump) == 'string' then
      local ms = 0
      if ttl > 0 then ms = ttl * 1000 end
      local ok = redis.pcall('RESTORE', key, ms, dump, 'REPLACE')
      if type(ok) == 'table' and ok.ok then return end
    end
  end
  if ttl > 0 then redis.call('EXPIRE', key, ttl) else redis.call('PERSIST', key) end
end
