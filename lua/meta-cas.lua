-- meta-cas: writes a job's meta only if it is still what the caller read
-- (Job.updateMeta): a compare-and-set on the serialized text, so the merge is
-- done by the caller's serializer and a concurrent writer of another key
-- (a Python save_meta) is never lost; the caller retries on a mismatch.
-- include: keys
-- KEYS: none
-- ARGV: id, expected meta text ('' for none), new meta text
-- Returns: 1 when written, 0 when the job's hash is gone, else {current text}.
local key = job_key(ARGV[1])
if redis.call('EXISTS', key) == 0 then return 0 end
local current = redis.call('HGET', key, 'meta')
if current == false then current = '' end
if current ~= ARGV[2] then return { current } end
redis.call('HSET', key, 'meta', ARGV[3])
return 1
