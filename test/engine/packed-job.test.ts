// The scripts that hand out jobs return their whole reply packed with Redis'
// cmsgpack, job hashes nested; the worker reads it with PackedReader. Every
// size class of msgpack string and array must come through byte for byte,
// binary `data` and multi-byte UTF-8 included.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Job, Queue } from '../../src/index.js';
import { MalformedJobError } from '../../src/engine/errors.js';
import { PackedReader } from '../../src/engine/packed.js';
import { dequeue } from '../../src/engine/transitions.js';
import { engineFixture } from '../helpers/engine.js';
import { uniq } from '../helpers/util.js';

const fx = engineFixture();

test('a dequeued job reads back field for field as HGETALL gives it (fixstr to str32, array16, binary data)', async () => {
  const name = uniq('q');
  const job = await new Queue(name, fx.redis).enqueue('t.echo', {
    args: ['x'.repeat(70_000)], // data: zlib of 70 kB, binary, str32
    description: 'd'.repeat(300), // str16
    meta: { note: 'é✓'.repeat(40) }, // str8, multi-byte UTF-8
  });
  // More than 15 entries: an array16 header.
  await fx.redis.hset(`rq:job:${job.id}`, 'a', '', 'b', 'b'.repeat(31), 'c', 'c'.repeat(32));
  const { taken } = await dequeue(fx.redis, uniq('w'), { count: 1, hbTtl: 20, execTtl: 80, queues: [name], execIds: ['e1'] });
  assert.ok(taken !== 'suspended');
  assert.equal(taken[0]!.id, job.id);
  const got = new Job(fx.redis, job.id, taken[0]!.fields, taken[0]!.data);
  assert.ok(Object.keys(got.fields).length > 15, 'more than 15 fields: an array16 header');
  const stored = await fx.redis.hgetallBuffer(`rq:job:${job.id}`);
  assert.ok(got.data?.equals(stored.data!), 'data byte for byte');
  const { data: _, ...rest } = stored;
  assert.deepEqual(got.fields, Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, v.toString('utf8')])));
  assert.deepEqual(got.call().args, ['x'.repeat(70_000)]);
});

test('a packed reply that is not what the scripts write is refused with a clear error', () => {
  const hash = (bytes: number[]) => () => new PackedReader(Buffer.from(bytes)).hash();
  assert.throws(hash([0x92, 0xa1, 0x61, 0x01]), MalformedJobError);
  assert.throws(hash([0x92, 0xa1, 0x61, 0xa5, 0x61]), /truncated/);
  assert.throws(hash([0xdc, 0x00]), /truncated/);
  assert.throws(hash([0x81]), /unexpected msgpack byte 0x81 at 0/);
});

test('a reply reads back every string and integer cmsgpack writes, names made once', async () => {
  const packed = (await fx.redis.callBuffer(
    'EVAL',
    `return cmsgpack.pack({ 'finished', { 1, 0, 127, 128, 65535, 65536, -1, -33, -129 }, { 'é✓', string.rep('a', 31), string.rep('b', 32), string.rep('c', 256), string.rep('d', 65536), '' } })`,
    0,
  )) as Buffer;
  const r = new PackedReader(packed);
  assert.equal(r.array(), 3);
  assert.equal(r.str(), 'finished');
  const ints: number[] = [];
  for (let i = 0, n = r.array(); i < n; i++) ints.push(r.int());
  assert.deepEqual(ints, [1, 0, 127, 128, 65535, 65536, -1, -33, -129]);
  const strs: string[] = [];
  for (let i = 0, n = r.array(); i < n; i++) strs.push(r.str());
  assert.deepEqual(strs, ['é✓', 'a'.repeat(31), 'b'.repeat(32), 'c'.repeat(256), 'd'.repeat(65536), '']);
  assert.ok(r.done);
  const names = (await fx.redis.callBuffer('EVAL', `return cmsgpack.pack({ 'status', 'x', 'status', 'y' })`, 0)) as Buffer;
  const a = new PackedReader(names);
  a.array();
  const first = a.name();
  a.str();
  assert.equal(a.name(), first);
  assert.equal(first, 'status');
});
