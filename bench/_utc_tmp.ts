import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { BenchRedis } from './redis.js';
const oldF = readFileSync('/tmp/rw/utc_old.lua', 'utf8');
const newF = readFileSync('/tmp/rw/utc_new.lua', 'utf8');
const srv = await BenchRedis.start();
const r = new Redis(srv.port, '127.0.0.1');
// correctness: many values, compared with JS
const check = `${newF.replace('local function utcformat', 'local function utc_new')}\n${oldF}\nlocal out = {}\nfor i = 1, #ARGV do local us = tonumber(ARGV[i]); out[i] = utc_new(us) .. ' ' .. utcformat(us) end\nreturn out`;
let bad = 0, n = 0;
for (let k = 0; k < 40; k++) {
  const vals: number[] = [];
  for (let i = 0; i < 1000; i++) vals.push(Math.floor(Math.random() * 4102444800) * 1e6 + Math.floor(Math.random() * 1e6));
  // edges: day/year boundaries, leap days, 2100 non-leap, micro 0 and 999999
  for (const s of [0, 86399, 86400, 951782400, 951868800, 4107456000, 4107542399, 1795864627, 253402300799]) vals.push(s * 1e6, s * 1e6 + 999999);
  const rep = (await r.eval(check, 0, ...vals.map(String))) as string[];
  rep.forEach((x, i) => {
    n++;
    const [a, b] = x.split(' ');
    const us = vals[i]!;
    const js = new Date(Math.floor(us / 1000)).toISOString().slice(0, 19) + '.' + String(us % 1e6).padStart(6, '0') + 'Z';
    if (a !== b || a !== js) { bad++; if (bad < 5) console.log('MISMATCH', us, a, b, js); }
  });
}
console.log('checked', n, 'mismatches', bad);
const loop = (f: string) => `${f}\nlocal t = redis.call('TIME') local us = tonumber(t[1]) * 1000000 + tonumber(t[2]) local x\nfor i = 1, 100000 do x = utcformat(us + i) end\nreturn x`;
const fm = (src: string) => `local f = ${JSON.stringify(src)}\n`;
void fm;
const shas = [await r.script('LOAD', loop(oldF)), await r.script('LOAD', loop(newF)), await r.script('LOAD', `local t = redis.call('TIME') local f = tonumber(t[1]) + tonumber(t[2]) / 1e6 local x for i = 1, 100000 do x = string.format('%.6f', f + i) end return x`)] as string[];
const tot = [0, 0, 0];
for (let k = 0; k < 10; k++) for (const [i, s] of shas.entries()) { const t0 = process.hrtime.bigint(); await r.evalsha(s, 0); tot[i]! += Number(process.hrtime.bigint() - t0) / 1e3; }
console.log('utcformat old', (tot[0]! / 1e6).toFixed(3), 'us/call; new', (tot[1]! / 1e6).toFixed(3), 'us/call; fmt_float', (tot[2]! / 1e6).toFixed(3), 'us/call');
r.disconnect(); await srv.stop();
