-- per-call: take_clock()

-- Redis' clock is the one clock every process shares, so every score and
-- timestamp written by a script comes from it. Read per call (take_clock):
-- NOW_US microseconds, NOW integer seconds (RQ's score unit), NOW_F float
-- seconds, NOW_ISO and NOW_FS as written into hashes.
local NOW_US, NOW, NOW_F, NOW_ISO, NOW_FS

local function utcformat(us)
  local secs = math.floor(us / 1000000)
  local micro = us - secs * 1000000
  local days = math.floor(secs / 86400)
  local rem = secs - days * 86400
  local h = math.floor(rem / 3600)
  local mi = math.floor((rem - h * 3600) / 60)
  local s = rem - h * 3600 - mi * 60
  -- days since 1970-01-01 to a civil date (H. Hinnant's algorithm)
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local mo = mp < 10 and mp + 3 or mp - 9
  if mo <= 2 then y = y + 1 end
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%06dZ', y, mo, d, h, mi, s, micro)
end

local function fmt_float(f)
  return string.format('%.6f', f)
end

local function take_clock()
  local t = redis.call('TIME')
  NOW_US = tonumber(t[1]) * 1000000 + tonumber(t[2])
  NOW = tonumber(t[1])
  NOW_F = NOW_US / 1000000
  NOW_ISO = utcformat(NOW_US)
  NOW_FS = fmt_float(NOW_F)
end
