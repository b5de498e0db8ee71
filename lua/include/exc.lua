-- RQ's exc_string encoding: base64(zlib(text)).

-- The failure reason as RQ stores it: base64(zlib(text)), the zlib stream
-- made of one stored block (valid for every zlib reader, Python's too).
local B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1, c2 = math.floor(n / 262144) % 64, math.floor(n / 4096) % 64
    local c3, c4 = math.floor(n / 64) % 64, n % 64
    out[#out + 1] = B64:sub(c1 + 1, c1 + 1) .. B64:sub(c2 + 1, c2 + 1)
      .. (b and B64:sub(c3 + 1, c3 + 1) or '=') .. (c and B64:sub(c4 + 1, c4 + 1) or '=')
  end
  return table.concat(out)
end

local function exc_string(text)
  text = string.sub(text, 1, 4000)
  local n = #text
  local a, b = 1, 0
  for i = 1, n do
    a = (a + text:byte(i)) % 65521
    b = (b + a) % 65521
  end
  local header = string.char(0x78, 0x01, 0x01, n % 256, math.floor(n / 256), (65535 - n) % 256, math.floor((65535 - n) / 256))
  local adler = string.char(math.floor(b / 256), b % 256, math.floor(a / 256), a % 256)
  return base64(header .. text .. adler)
end
