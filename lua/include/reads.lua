-- include: keys
-- Reads that tolerate missing keys and keys of another type.

-- A job's status, false when its hash is gone. A key of another type
-- (written by another program, or an id like 'P:dependents') counts as gone
-- instead of aborting the script with WRONGTYPE.
local function job_status(id)
  local st = redis.pcall('HGET', job_key(id), 'status')
  if type(st) == 'table' then return false end
  return st
end

-- SMEMBERS that reads a key of another type as an empty set.
local function set_members(key)
  local m = redis.pcall('SMEMBERS', key)
  if type(m) ~= 'table' or m.err ~= nil then return {} end
  return m
end

local function hget_num(key, field)
  local v = redis.call('HGET', key, field)
  if v == false or v == '' then return nil end
  return tonumber(v)
end

local function decode_list(raw)
  if raw == false or raw == nil or raw == '' then return {} end
  local ok, v = pcall(cjson.decode, raw)
  if ok and type(v) == 'table' then return v end
  return {}
end
