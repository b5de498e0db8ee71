// The clock every script writes (include/clock.lua): NOW_ISO goes into the job and
// worker hashes Python parses with RQ's utcformat ('%Y-%m-%dT%H:%M:%S.%fZ'),
// NOW_FS into execution hashes as float seconds. Both are computed on every
// call, so they are written for speed; these checks hold them to the
// straightforward formats over many instants.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { engineFixture } from '../helpers/engine.js';

const fx = engineFixture();
const clock = readFileSync(new URL('../../lua/include/clock.lua', import.meta.url), 'utf8');

/** RQ's utcformat of an instant in µs, from JS's own calendar. */
function iso(us: number): string {
  const micro = us % 1e6;
  const secs = (us - micro) / 1e6;
  return `${new Date(secs * 1000).toISOString().slice(0, 19)}.${String(micro).padStart(6, '0')}Z`;
}

test('utcformat gives RQ\'s timestamp for instants from 1970 to 2999, day, month, leap-year and century edges included', async () => {
  const secs: number[] = [];
  for (let i = 0; i < 3000; i++) secs.push(Math.floor(Math.random() * 32503680000));
  const day = 86400;
  // 2000-02-28/29, 2000-03-01, 2100-02-28 (no leap day), 2100-03-01, 2024-12-31, 2025-01-01, 1970-01-01
  for (const d of [11016, 11017, 11018, 47540, 47541, 20088, 20089, 0]) secs.push(d * day, d * day + day - 1);
  // runs of instants in one minute and across the next (utcformat keeps the minute's prefix)
  for (let r = 0; r < 20; r++) {
    const base = Math.floor(Math.random() * 32503680000);
    for (let k = 0; k < 90; k += 1 + (k % 3)) secs.push(base + k);
  }
  const us = secs.map((s, i) => s * 1e6 + (i % 7 === 0 ? 0 : i % 7 === 1 ? 999999 : Math.floor(Math.random() * 1e6)));
  const got = (await fx.redis.eval(
    `${clock}\nlocal out = {}\nfor i = 1, #ARGV do out[i] = utcformat(tonumber(ARGV[i])) end\nreturn out`,
    0,
    ...us.map(String),
  )) as string[];
  const wrong = us.flatMap((u, i) => (got[i] === iso(u) ? [] : [`${u}: ${got[i]} != ${iso(u)}`]));
  assert.deepEqual(wrong.slice(0, 5), []);
});

test('NOW_FS is NOW_F with six decimals and NOW_ISO the same instant, whatever TIME says', async () => {
  // TIME replaced by the test's values: every width of the microseconds
  const fake = 'local t = { ARGV[1], ARGV[2] }';
  assert.ok(clock.includes("local t = redis.call('TIME')"));
  const script = `${clock.replace("local t = redis.call('TIME')", fake)}\ntake_clock()\nreturn { NOW_FS, fmt_float(NOW_F), NOW_ISO }`;
  const times: [number, number][] = [];
  for (const micro of [0, 1, 9, 10, 99, 100, 999, 1000, 9999, 10000, 99999, 100000, 999999]) times.push([1795864627, micro]);
  for (let i = 0; i < 2000; i++) times.push([Math.floor(Math.random() * 4e9), Math.floor(Math.random() * 1e6)]);
  const p = fx.redis.pipeline();
  for (const [s, micro] of times) p.eval(script, 0, String(s), String(micro));
  const replies = (await p.exec())!;
  const wrong: string[] = [];
  replies.forEach(([err, rep], i) => {
    const [s, micro] = times[i]!;
    const [fs, expected, isoNow] = rep as string[];
    const exact = `${s}.${String(micro).padStart(6, '0')}`;
    if (err || fs !== expected || fs !== exact || isoNow !== iso(s * 1e6 + micro)) wrong.push(`${s} ${micro}: ${String(err ?? '')} ${fs} / ${expected}, ${isoNow}`);
  });
  assert.deepEqual(wrong.slice(0, 5), []);
});
