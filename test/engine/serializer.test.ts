import assert from 'node:assert/strict';
import { deflateSync, inflateSync } from 'node:zlib';
import { test } from 'node:test';
import { describeCall } from '../../src/engine/description.js';
import { decodeCall, encodeCall, pyJsonDumps, encodeExcString, decodeExcString, encodeReturnValue, decodeReturnValue, parseJson, PyFloat, pyRepr, pyTuple } from '../../src/engine/serializer.js';
import { MalformedJobError } from '../../src/engine/errors.js';
import { parseUtc, utcformat, parseDuration } from '../../src/engine/time.js';

test('pyJsonDumps writes what Python json.dumps writes', () => {
  assert.equal(pyJsonDumps(['tasks.add', null, [2, 3], {}]), '["tasks.add", null, [2, 3], {}]');
  assert.equal(pyJsonDumps({ a: 1, b: [true, false], c: 'x' }), '{"a": 1, "b": [true, false], "c": "x"}');
  // ensure_ascii: everything outside 0x20..0x7e is escaped
  assert.equal(pyJsonDumps('héllo ☃ \u007f'), '"h\\u00e9llo \\u2603 \\u007f"');
  assert.equal(pyJsonDumps('😀'), '"\\ud83d\\ude00"');
  assert.equal(pyJsonDumps({ d: new Date('2026-01-01T00:00:00Z') }), '{"d": "2026-01-01T00:00:00.000Z"}');
  // an int beyond 2^53 is exact, as Python's (issue 15)
  assert.equal(pyJsonDumps([12345678901234567890n]), '[12345678901234567890]');
  assert.throws(() => pyJsonDumps(new Map()), TypeError);
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  assert.throws(() => pyJsonDumps(circular), /Circular/);
});

test('data is zlib of the call array, and decodes from zlib or raw JSON', () => {
  const data = encodeCall('tasks.hello', [], { name: 'rq' });
  assert.equal(data[0], 0x78);
  // big payloads are deflated, small ones stored; zlib reads both
  const big = encodeCall('tasks.big', ['x'.repeat(10_000)], {});
  assert.ok(big.length < 1000);
  assert.equal(inflateSync(big).toString(), `["tasks.big", null, ["${'x'.repeat(10_000)}"], {}]`);
  assert.deepEqual(decodeCall(big).args, ['x'.repeat(10_000)]);
  // a stored stream with a wrong checksum is not taken for ours; it is then read as raw bytes and refused
  const corrupt = Buffer.from(data);
  corrupt[corrupt.length - 1] = corrupt[corrupt.length - 1]! ^ 0xff;
  assert.throws(() => decodeCall(corrupt), /not JSON/);
  assert.equal(inflateSync(data).toString(), '["tasks.hello", null, [], {"name": "rq"}]');
  assert.deepEqual(decodeCall(data), { func: 'tasks.hello', args: [], kwargs: { name: 'rq' } });
  assert.deepEqual(decodeCall(Buffer.from('["tasks.hello",null,[1],{}]')), { func: 'tasks.hello', args: [1], kwargs: {} });
});

test('malformed data gives a clear MalformedJobError', () => {
  const pickle = deflateSync(Buffer.from([0x80, 0x05, 0x95, 0x00]));
  assert.throws(() => decodeCall(pickle), (e: Error) => e instanceof MalformedJobError && /pickle/.test(e.message));
  assert.throws(() => decodeCall(Buffer.from('not json')), /not JSON/);
  assert.throws(() => decodeCall(Buffer.from('{"a": 1}')), /\[func, instance, args, kwargs\]/);
  assert.throws(() => decodeCall(Buffer.from('["f", {"x": 1}, [], {}]')), /bound method/);
  assert.throws(() => decodeCall(Buffer.from('["f", null, 3, {}]')), /args/);
  assert.throws(() => decodeCall(undefined), /no data/);
});

test('results and tracebacks use RQ encodings', () => {
  assert.equal(encodeReturnValue(5), 'NQ==');
  assert.equal(encodeReturnValue({ greeting: 'hello rq' }), 'eyJncmVldGluZyI6ICJoZWxsbyBycSJ9');
  assert.equal(encodeReturnValue(undefined), '');
  assert.equal(decodeExcString(encodeExcString('Traceback\nboom')), 'Traceback\nboom');
});

test('description is the Python call string', () => {
  assert.equal(describeCall('tasks.add', [2, 'x', null, true], { z: 1, a: [1] }), "tasks.add(2, 'x', None, True, a=[1], z=1)");
  assert.equal(describeCall('t.f', ['a'.repeat(100)], {}), `t.f('${'a'.repeat(74)}...)`);
});

test('timestamps use utcformat and parse with 0 to 6 fractional digits', () => {
  const d = new Date('2026-11-28T11:17:02.651Z');
  assert.equal(utcformat(d), '2026-11-28T11:17:02.651000Z');
  // outside years 0-9999 toISOString widens the year; the microseconds still follow
  assert.equal(utcformat(new Date(Date.UTC(10000, 0, 1, 0, 0, 0, 7))), '+010000-01-01T00:00:00.007000Z');
  assert.equal(parseUtc('2026-11-28T11:17:02.651291Z')!.getTime(), d.getTime());
  assert.equal(parseUtc('2026-11-28T11:17:02Z')!.toISOString(), '2026-11-28T11:17:02.000Z');
  assert.equal(parseUtc('2026-11-28T11:17:02+00:00'), null);
  assert.equal(parseUtc(''), null);
  assert.equal(parseDuration('5m'), 300);
  assert.equal(parseDuration('1h'), 3600);
  assert.throws(() => parseDuration('soon'), /Invalid duration/);
});

test('numbers survive the trip: floats stay floats, integers beyond 2^53 stay exact (issue 15)', () => {
  assert.equal(pyJsonDumps([new PyFloat(1), new PyFloat(100), new PyFloat(0.5), 2]), '[1.0, 100.0, 0.5, 2]');
  const call = decodeCall(Buffer.from('["t.f", null, [12345678901234567891, 1.0, 9007199254740993], {"k": -98765432109876543210}]'));
  assert.deepEqual(call.args, [12345678901234567891n, 1, 9007199254740993n]);
  assert.deepEqual(call.kwargs, { k: -98765432109876543210n });
  assert.equal(decodeReturnValue(encodeReturnValue(2n ** 64n)), 2n ** 64n);
  assert.deepEqual(parseJson('[1.0, 1e2, 1.5, 3, "1.0"]', { floats: true }), [new PyFloat(1), new PyFloat(100), 1.5, 3, '1.0']);
  assert.equal(pyRepr([new PyFloat(2), 12345678901234567890n, pyTuple([1]), pyTuple([1, 'a'])]), "[2.0, 12345678901234567890, (1,), (1, 'a')]");
  // RQ sorts the 'k=v' strings, not the keys: 'a0=' before 'a=' (Python RQ's get_call_string prints this)
  assert.equal(describeCall('t.f', [], { a: 2, a0: 1 }), 't.f(a0=1, a=2)');
});
