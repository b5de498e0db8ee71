-- include: keys
-- TTL cleaning and a job's expiry.

-- TTLs come from job hashes any program may write and from ARGV; Redis
-- refuses an EXPIRE that is not an integer or is past its range, and a
-- script that errors after writing is not rolled back. So every TTL is
-- cleaned before a script's first write: a non-number gives the fallback
-- (RQ's default), a fraction is floored, a negative one means no expiry
-- (-1), and ten years (MAX_SECONDS in src/engine/limits.ts) is the most.
local MAX_TTL = 315360000
-- RQ's defaults, the fallbacks of clean_ttl (DEFAULT_RESULT_TTL and
-- DEFAULT_FAILURE_TTL in src/engine/defaults.ts).
local DEFAULT_RESULT_TTL = 500
local ONE_YEAR = 31536000
local function clean_ttl(v, fallback)
  local n = tonumber(v)
  if n == nil or n ~= n or n == math.huge or n == -math.huge then
    if fallback == nil then return nil end
    n = fallback
  end
  n = math.floor(n)
  if n < 0 then return -1 end
  if n > MAX_TTL then return MAX_TTL end
  return n
end

-- Applies a job's ttl/result_ttl/failure_ttl to the hash and its two
-- dependency sets, as RQ's Job.cleanup does.
-- has_dependents / has_dependencies may be false when the caller knows
-- those sets do not exist, to spare the commands on the hot path.
local function expire_job(id, ttl, has_dependents, has_dependencies)
  ttl = clean_ttl(ttl, nil)
  if ttl == nil or ttl < 0 then
    redis.call('PERSIST', job_key(id))
    return
  end
  if ttl == 0 then
    redis.call('DEL', job_key(id), dependents_key(id), dependencies_key(id))
    return
  end
  redis.call('EXPIRE', job_key(id), ttl)
  if has_dependents ~= false then redis.call('EXPIRE', dependents_key(id), ttl) end
  if has_dependencies ~= false then redis.call('EXPIRE', dependencies_key(id), ttl) end
end
