import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Redis } from 'ioredis';
import { createRedis } from '../../src/engine/connection.js';
import { ReplyWatch } from '../../src/engine/reply-watch.js';
import { TcpProxy } from '../helpers/proxy.js';
import { testRedis } from '../helpers/redis.js';
import { uniq, until } from '../helpers/util.js';

let url = '';
let close = async () => {};
let proxy: TcpProxy;
const conns: Redis[] = [];

before(async () => {
  ({ url, close } = await testRedis());
  proxy = new TcpProxy(Number(new URL(url).port));
  await proxy.start();
});
after(async () => {
  for (const c of conns) c.disconnect();
  await proxy.stop();
  await close();
});

function viaProxy(): Redis {
  const c = createRedis(proxy.url);
  conns.push(c);
  return c;
}

test('a connection that stops answering is dropped and reconnected; the unanswered command is resent', async () => {
  const conn = viaProxy();
  const key = uniq('rw');
  await conn.set(key, 'before');
  const stalls: number[] = [];
  const watch = new ReplyWatch(conn, 300, (ms) => stalls.push(ms));
  const tick = 100;
  const timer = setInterval(() => watch.tick(tick), tick);
  try {
    assert.equal(proxy.freezeAll(), 1);
    // Sent into the frozen connection: its reply can only come after a reconnect.
    const pending = conn.incr(key + ':n');
    await until(() => stalls.length > 0, 5000);
    assert.ok(stalls[0]! >= 300, `stalled after ${stalls[0]} ms`);
    assert.equal(await pending, 1);
    assert.equal(await conn.get(key), 'before');
  } finally {
    clearInterval(timer);
  }
});

test('a live connection is never dropped, nor one whose process was blocked past the limit', async () => {
  const conn = viaProxy();
  await conn.ping();
  let stalls = 0;
  const watch = new ReplyWatch(conn, 50, () => stalls++);
  for (let i = 0; i < 20; i++) {
    watch.tick(20);
    await new Promise((r) => setTimeout(r, 20));
  }
  // The event loop is held for longer than the limit, with a PING out: the
  // next tick is late, so its silence proves nothing.
  watch.tick(20);
  const blockedUntil = Date.now() + 200;
  while (Date.now() < blockedUntil);
  watch.tick(20);
  assert.equal(stalls, 0);
  assert.equal(conn.status, 'ready');
});
