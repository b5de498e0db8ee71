// The README's first command: `npm run demo` (npm run build, then
// `openvle-rq demo`) run as a user would, on a Redis of its own here, and
// the machine's MariaDB.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { testRedis } from '../../helpers/redis.js';
import { ROOT } from './harness.js';

test('openvle-rq demo deploys and archives an event, prints the Task table and leaves nothing behind', { timeout: 240_000 }, async () => {
  const redis = await testRedis();
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: redis.url };
    delete env.RQ_REDIS_URL;
    const child = spawn(process.execPath, ['bin/openvle-rq', 'demo'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    assert.equal(code, 0, out);

    // Not a terminal: plain lines, no live screen.
    assert.doesNotMatch(out, /\x1b\[/);
    assert.match(out, /^event deployed after/m);
    assert.match(out, /^event archived after .*: 0 VMs left/m);
    // The injected Proxmox lock timeout shows as a retry of one clone.
    assert.match(out, /retry after: .*got lock request timeout/);
    const summary = /^(\d+) Tasks, (\d+) succeeded, (\d+) needed a retry, (\d+) failed; (\d+) mails delivered/m.exec(out);
    assert.ok(summary, out);
    const [, total, succeeded, retried, failed, mails] = summary.map(Number);
    assert.equal(succeeded, total);
    assert.equal(failed, 0);
    assert.ok(retried! >= 1);
    assert.ok(mails! >= 3, 'the success mail to each of the three participants');
    // The table: every Task, then a line per attempt; the retried clone has two.
    assert.match(out, /^ {3}\d+ {2}Clone VM +pve_vm_clone +success +2$/m);
    assert.match(out, /^ {8}#1 .* error /m);

    // It used its own Redis database and MariaDB database, and removed them.
    const db = /^Redis database (\d+) at /m.exec(out)?.[1];
    assert.ok(db, out);
    const r = new Redis(`${redis.url}/${db}`);
    assert.equal(await r.dbsize(), 0);
    r.disconnect();
    const name = /^MariaDB database (\S+) at /m.exec(out)?.[1];
    assert.ok(name, out);
    const conn = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
    const [rows] = await conn.query('SHOW DATABASES LIKE ?', [name]);
    await conn.end();
    assert.equal((rows as unknown[]).length, 0);
  } finally {
    await redis.close();
  }
});
