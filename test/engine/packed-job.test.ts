// dequeue.lua hands out each job hash packed with Redis' cmsgpack; the
// worker reads it with unpackStrings. Every size class of msgpack string and
// array must come through byte for byte, binary `data` included.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Job, Queue } from '../../src/index.js';
import { MalformedJobError } from '../../src/engine/errors.js';
import { unpackStrings } from '../../src/engine/job.js';
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
  const packed = taken[0]!.packed;
  assert.equal(packed[0], 0xdc, 'array16 header');
  const got = Job.fromPacked(fx.redis, job.id, packed);
  const stored = await fx.redis.hgetallBuffer(`rq:job:${job.id}`);
  assert.ok(got.data?.equals(stored.data!), 'data byte for byte');
  const { data: _, ...rest } = stored;
  assert.deepEqual(got.fields, Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, v.toString('utf8')])));
  assert.deepEqual(got.call().args, ['x'.repeat(70_000)]);
});

test('a packed hash that is not an array of strings is refused with a clear error', () => {
  assert.throws(() => unpackStrings(Buffer.from([0x92, 0xa1, 0x61, 0x01]), () => {}), MalformedJobError);
  assert.throws(() => unpackStrings(Buffer.from([0x91, 0xa5, 0x61]), () => {}), /truncated/);
  assert.throws(() => unpackStrings(Buffer.from([0x81]), () => {}), /unexpected msgpack byte 0x81/);
});
