// How the Lua transitions reach Redis (src/engine/scripts.ts): every script
// has the includes it names, the function library survives a FUNCTION FLUSH
// and a restart of a Redis without persistence, and two versions of the
// library share one Redis without calling each other.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import type { Redis } from 'ioredis';
import { createRedis, Queue, silentLogger, Worker } from '../../src/index.js';
import {
  buildLibrary,
  evalSource,
  readLua,
  SCRIPT_NAMES,
  scriptLibrary,
  scriptsModeOf,
  setScriptsMode,
  type LuaSet,
} from '../../src/engine/scripts.js';
import { metaCas } from '../../src/engine/transitions.js';
import { engineFixture, tasks } from '../helpers/engine.js';
import { RedisServer } from '../helpers/redis.js';
import { uniq, until } from '../helpers/util.js';

const fx = engineFixture();
const LUA_DIR = fileURLToPath(new URL('../../lua', import.meta.url));

/** Lua text without comments and string literals (their words are no names). */
function code(text: string): string {
  return text
    .replace(/--\[(=*)\[[\s\S]*?\]\1\]/g, ' ')
    .replace(/\[(=*)\[[\s\S]*?\]\1\]/g, '""')
    .replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g, '""')
    .replace(/--[^\n]*/g, ' ');
}

/** Names a text defines at its top level (column 0): `local function f`, `local a, b =`, `local a`. */
function topLevelNames(text: string): string[] {
  const out: string[] = [];
  for (const line of code(text).split('\n')) {
    const f = /^local\s+function\s+([A-Za-z_]\w*)/.exec(line);
    if (f) out.push(f[1]!);
    else {
      const m = /^local\s+([A-Za-z_][\w\s,]*?)\s*(=|$)/.exec(line);
      if (m) out.push(...m[1]!.split(',').map((s) => s.trim()));
    }
  }
  return out;
}

/** Names a text reads (not fields: a.b, a:b), and names it declares local anywhere. */
function usedAndLocal(text: string): { used: Set<string>; locals: Set<string> } {
  const c = code(text);
  const used = new Set<string>();
  for (const m of c.matchAll(/(?<![.:\w])([A-Za-z_]\w*)/g)) used.add(m[1]!);
  const locals = new Set<string>();
  for (const m of c.matchAll(/\blocal\s+(?:function\s+)?([A-Za-z_][\w\s,]*?)(?=\s*(=|\(|\n|$))/g)) {
    for (const n of m[1]!.split(',')) locals.add(n.trim());
  }
  for (const m of c.matchAll(/\bfunction\s*[\w.:]*\s*\(([^)]*)\)/g)) for (const n of m[1]!.split(',')) locals.add(n.trim());
  for (const m of c.matchAll(/\bfor\s+([\w\s,]+?)\s+(=|in)\b/g)) for (const n of m[1]!.split(',')) locals.add(n.trim());
  return { used, locals };
}

/**
 * Every helper a script (or one of its includes) reads is defined by an
 * include that comes before it in the script's resolved order. Returns the
 * problems found, one line each.
 */
function missingHelpers(set: LuaSet): string[] {
  const definedBy = new Map<string, string>();
  for (const [name, text] of set.includes) for (const n of topLevelNames(text)) definedBy.set(n, name);
  const problems: string[] = [];
  for (const script of set.bodies.keys()) {
    const order = set.order.get(script)!;
    const texts: [string, string, number][] = order.map((n, i) => [`include/${n}`, set.includes.get(n)!, i]);
    texts.push([`${script}.lua`, set.bodies.get(script)!, order.length]);
    for (const [where, text, at] of texts) {
      const { used, locals } = usedAndLocal(text);
      const own = where.startsWith('include/') ? new Set(topLevelNames(text)) : new Set<string>();
      for (const n of used) {
        const def = definedBy.get(n);
        if (def === undefined || own.has(n)) continue;
        const idx = order.indexOf(def);
        if (idx >= 0 && idx < at) continue;
        if (!where.startsWith('include/') && locals.has(n)) continue; // the script's own local of that name
        problems.push(`${script}: ${where} uses ${n} from include/${def}, which ${idx < 0 ? 'it does not include' : 'comes too late'}`);
      }
    }
  }
  return problems;
}

test('every script lists the includes it needs: no helper is read without its include before it', () => {
  const set = readLua(LUA_DIR);
  for (const [n, body] of set.bodies) assert.match(body, /^-- include:/m, `${n}.lua has no '-- include:' line`);
  assert.deepEqual(missingHelpers(set), []);
  // The check itself finds what it is for: a script reading a helper it does not include.
  const broken: LuaSet = {
    includes: set.includes,
    bodies: new Map([...set.bodies, ['empty', 'return job_key(ARGV[1])']]),
    order: new Map([...set.order, ['empty', []]]),
  };
  assert.deepEqual(missingHelpers(broken), ['empty: empty.lua uses job_key from include/' + [...set.includes].find(([, t]) => topLevelNames(t).includes('job_key'))![0] + ', which it does not include']);
});

test('every script compiles alone as EVAL runs it, and the whole library loads', async () => {
  const set = readLua(LUA_DIR);
  for (const n of SCRIPT_NAMES) {
    const sha = await fx.redis.script('LOAD', evalSource(set, n)).catch((e: Error) => e);
    assert.ok(typeof sha === 'string', `${n}.lua: ${String(sha)}`);
  }
  const lib = buildLibrary(set);
  assert.equal(await fx.redis.call('FUNCTION', 'LOAD', 'REPLACE', lib.code), lib.name);
});

test('the script running without its include fails loudly in Redis: a read of a missing helper is an error', async () => {
  // What missingHelpers guards against would not pass silently at run time either.
  await assert.rejects(fx.redis.eval('return job_key(ARGV[1])', 0, 'x'), /nonexistent global variable 'job_key'|attempt to call/);
});

function gatedTasks() {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  return { t: tasks({ 't.gated': () => gate, 't.ok': () => 'ok' }), open: () => open() };
}

async function workerOn(connection: Redis, q: string, t: ReturnType<typeof tasks>) {
  const w = new Worker([q], { connection, tasks: t, logger: silentLogger, concurrency: 4 });
  const finished: string[] = [];
  w.on('error', () => {});
  w.on('job-finished', (job: { id: string }) => finished.push(job.id));
  const done = w.work();
  return { w, finished, done };
}

test('FUNCTION FLUSH while jobs run: the library is loaded again and every job finishes', { timeout: 60_000 }, async () => {
  const conn = fx.connection();
  setScriptsMode(conn, 'functions');
  const producer = fx.connection();
  setScriptsMode(producer, 'functions');
  const q = uniq('flush');
  const { t, open } = gatedTasks();
  const { w, finished, done } = await workerOn(conn, q, t);
  const queue = new Queue(q, producer);
  const first = await queue.enqueueMany(Array.from({ length: 10 }, () => ({ func: 't.gated' })));
  await until(() => w.runningJobIds().length === 4);
  assert.equal(scriptsModeOf(conn), 'functions');
  // The running jobs' finish calls and the producer's next enqueue meet no library.
  await fx.redis.call('FUNCTION', 'FLUSH');
  open();
  const later = await queue.enqueueMany(Array.from({ length: 10 }, () => ({ func: 't.ok' })));
  await until(() => finished.length === 20, 30_000);
  assert.deepEqual(new Set(finished), new Set([...first, ...later].map((j) => j.id)));
  const libs = (await fx.redis.call('FUNCTION', 'LIST')) as unknown[][];
  assert.deepEqual(libs.map((l) => l[1]), [scriptLibrary().name]);
  w.stop();
  await done;
});

test('a restart of a Redis without persistence (no library, no data): the worker loads the library again and takes new jobs', { timeout: 60_000 }, async () => {
  const server = await RedisServer.start();
  const conn = createRedis(server.url);
  const producer = createRedis(server.url);
  conn.on('error', () => {});
  producer.on('error', () => {});
  try {
    setScriptsMode(conn, 'functions');
    setScriptsMode(producer, 'functions');
    const q = uniq('restart');
    const { w, finished, done } = await workerOn(conn, q, tasks({ 't.ok': () => 'ok' }));
    const queue = new Queue(q, producer);
    const before = await queue.enqueueMany(Array.from({ length: 5 }, () => ({ func: 't.ok' })));
    await until(() => before.every((j) => finished.includes(j.id)), 20_000);
    await server.restart();
    // The worker's next calls (its idle poll, heartbeat) and the producer's enqueue find no library.
    const after = await queue.enqueueMany(Array.from({ length: 5 }, () => ({ func: 't.ok' })));
    await until(() => after.every((j) => finished.includes(j.id)), 30_000);
    assert.equal(scriptsModeOf(conn), 'functions');
    w.stop();
    await done;
  } finally {
    conn.disconnect();
    producer.disconnect();
    await server.destroy();
  }
});

test('two versions of the library share one Redis: each calls its own functions', { timeout: 60_000 }, async () => {
  // Another version: its meta-cas answers 'B' to a marker, ours compares as always.
  const dir = mkdtempSync(join(tmpdir(), 'ovrq-lua-'));
  try {
    cpSync(LUA_DIR, dir, { recursive: true });
    const meta = join(dir, 'meta-cas.lua');
    const text = readFileSync(meta, 'utf8');
    writeFileSync(meta, text.replace(/^local key = /m, "if ARGV[2] == 'which?' then return 'B' end\nlocal key = "));
    const other = buildLibrary(readLua(dir));
    const ours = scriptLibrary();
    assert.notEqual(other.name, ours.name);
    for (const n of SCRIPT_NAMES) assert.notEqual(other.functions.get(n), ours.functions.get(n));

    const conn = fx.connection();
    setScriptsMode(conn, 'functions');
    const q = uniq('two');
    const job = await new Queue(q, conn).enqueue('t.ok');
    // ours is loaded (the enqueue); the other version loads beside it, and ours again after it
    assert.equal(await fx.redis.call('FUNCTION', 'LOAD', other.code), other.name);
    setScriptsMode(conn, 'functions');
    assert.deepEqual(await metaCas(conn, { id: job.id, expected: 'which?', meta: '{}' }), { current: '' });
    assert.equal(await fx.redis.call('FCALL', other.functions.get('meta-cas')!, 0, job.id, 'which?', '{}'), 'B');
    const names = ((await fx.redis.call('FUNCTION', 'LIST')) as unknown[][]).map((l) => String(l[1])).sort();
    assert.deepEqual(names, [ours.name, other.name].sort());
    // and a worker of ours works on while both are loaded
    const { w, finished, done } = await workerOn(conn, q, tasks({ 't.ok': () => 'ok' }));
    await until(() => finished.includes(job.id), 20_000);
    w.stop();
    await done;
    await fx.redis.call('FUNCTION', 'DELETE', other.name);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('OPENVLE_RQ_SCRIPTS=eval (or setScriptsMode eval): EVALSHA, no library loaded', { timeout: 30_000 }, async () => {
  const server = await RedisServer.start();
  const conn = createRedis(server.url);
  try {
    setScriptsMode(conn, 'eval');
    const q = uniq('eval');
    const { w, finished, done } = await workerOn(conn, q, tasks({ 't.ok': () => 'ok' }));
    const job = await new Queue(q, conn).enqueue('t.ok');
    await until(() => finished.includes(job.id), 20_000);
    assert.equal(scriptsModeOf(conn), 'eval');
    assert.deepEqual(await conn.call('FUNCTION', 'LIST'), []);
    w.stop();
    await done;
  } finally {
    conn.disconnect();
    await server.destroy();
  }
});
