// compose.yaml: `docker-compose config` (v1, Debian's) accepts it with
// .env.example as its .env, and what it resolves to is the seed's
// production layout: the services, replicas, roles and queues of
// src/openvle/roles.ts, healthchecks and healthy-service dependencies.
// .env.example lists every variable the code reads.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROLES, isRoleName } from '../../src/openvle/roles.js';
import { ROOT } from '../cli/helpers.js';

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  labels?: Record<string, string>;
  deploy?: { replicas?: number };
  healthcheck?: { test?: string[] };
  depends_on?: Record<string, { condition: string }>;
  stop_grace_period?: string;
  volumes?: string[];
  env_file?: string[];
}

// The seed's production table (task-system.md): role -> replicas.
const SEED_REPLICAS: Record<string, number> = { worker: 4, 'worker-vm-clone': 1, 'worker-periodic': 1, scheduler: 1 };

let dir: string;
let config: { services: Record<string, Service>; volumes?: Record<string, unknown> };

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ovrq-compose-'));
  copyFileSync(join(ROOT, 'compose.yaml'), join(dir, 'compose.yaml'));
  copyFileSync(join(ROOT, '.env.example'), join(dir, '.env'));
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(MARIADB|MONGO|COMPOSE)_/.test(k)) delete env[k];
  const r = spawnSync('docker-compose', ['config'], { cwd: dir, env, encoding: 'utf8' });
  assert.equal(r.status, 0, `docker-compose config refused compose.yaml: ${r.stderr}`);
  // docker-compose itself depends on PyYAML: read its output with it.
  const y = spawnSync('/usr/bin/python3', ['-c', 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], { input: r.stdout, encoding: 'utf8' });
  assert.equal(y.status, 0, y.stderr);
  config = JSON.parse(y.stdout);
});
after(() => rmSync(dir, { recursive: true, force: true }));

function seconds(d: string | undefined): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(d ?? '');
  assert.ok(m && d, `not a duration: ${d}`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

describe('compose.yaml', () => {
  test('services: the stores and one per production role', () => {
    assert.deepEqual(Object.keys(config.services).sort(), ['mariadb', 'mongodb', 'redis', 'scheduler', 'worker', 'worker-periodic', 'worker-vm-clone']);
  });

  test("each role's service runs serve with its SERVICE_ROLE, the seed's replicas, and the role's queues", () => {
    for (const [name, replicas] of Object.entries(SEED_REPLICAS)) {
      const s = config.services[name]!;
      const role = s.environment?.SERVICE_ROLE;
      assert.equal(role, name, `${name}: SERVICE_ROLE`);
      assert.ok(isRoleName(role!));
      assert.deepEqual(s.command, ['serve'], `${name}: command`);
      assert.equal(s.image, 'openvle-rq:latest');
      assert.equal(s.deploy?.replicas ?? 1, replicas, `${name}: replicas`);
      assert.equal(s.labels?.['org.openvle.role'], role);
      assert.deepEqual((s.labels?.['org.openvle.queues'] ?? '').split(',').filter(Boolean), [...ROLES[role as keyof typeof ROLES].queues], `${name}: queues`);
      assert.equal(ROLES[role as keyof typeof ROLES].cron, name === 'scheduler');
      assert.deepEqual(s.healthcheck?.test, ['CMD', 'openvle-rq', 'health'], `${name}: healthcheck`);
      assert.equal(s.depends_on?.redis?.condition, 'service_healthy');
      assert.equal(s.depends_on?.mariadb?.condition, 'service_healthy');
      assert.equal(s.environment?.RQ_REDIS_URL, 'redis://redis:6379/0', `${name}: configured from .env`);
    }
    assert.equal(config.services['worker-periodic']!.depends_on?.mongodb?.condition, 'service_healthy', 'the Proxmox sync writes to MongoDB');
    // Every queue is served by exactly one production role.
    const served = Object.keys(SEED_REPLICAS).flatMap((r) => [...ROLES[r as keyof typeof ROLES].queues]).sort();
    assert.deepEqual(served, [...ROLES['worker-all'].queues].sort());
  });

  test('the clone worker may finish a clone before it is killed', () => {
    assert.ok(seconds(config.services['worker-vm-clone']!.stop_grace_period) >= 15 * 60);
    for (const n of Object.keys(SEED_REPLICAS)) assert.ok(seconds(config.services[n]!.stop_grace_period) >= 30, n);
  });

  test('Redis is append-only with small stream nodes, on a volume; the stores have healthchecks', () => {
    const redis = config.services.redis!;
    const cmd = redis.command!.join(' ');
    assert.match(cmd, /--appendonly yes/);
    assert.match(cmd, /--stream-node-max-bytes 512/);
    assert.ok(redis.volumes?.some((v) => v.startsWith('redis-data:/data')));
    for (const n of ['redis', 'mariadb', 'mongodb']) assert.ok(config.services[n]!.healthcheck?.test?.length, `${n}: healthcheck`);
    assert.deepEqual(Object.keys(config.volumes ?? {}).sort(), ['mariadb-data', 'mongodb-data', 'redis-data']);
  });

  test('.env.example lists every variable the code reads', () => {
    const listed = new Set(
      readFileSync(join(ROOT, '.env.example'), 'utf8')
        .split('\n')
        .map((l) => /^([A-Z][A-Z0-9_]*)=/.exec(l)?.[1])
        .filter((v): v is string => Boolean(v)),
    );
    const read = new Set<string>();
    const files = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !f.startsWith('sim/') && !f.includes('demo'));
    for (const f of files) {
      const text = readFileSync(join(ROOT, 'src', f), 'utf8');
      for (const m of text.matchAll(/\.(?:raw|string|required|bool|int|oneOf|url)\('([A-Z][A-Z0-9_]*)'/g)) read.add(m[1]!);
      for (const m of text.matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b/g)) read.add(m[1]!);
      for (const m of text.matchAll(/'(RQ_TLS_[A-Z_]+)'/g)) read.add(m[1]!);
    }
    // The terminal's and the shell's, and developer switches: not configuration.
    for (const v of ['COLUMNS', 'HOME', 'USER', 'NO_COLOR', 'OPENVLE_RQ_DEBUG', 'REDIS_URL']) read.delete(v);
    assert.ok(read.size > 40, `found only ${read.size} variables: the scan is broken`);
    assert.deepEqual([...read].filter((v) => !listed.has(v)).sort(), []);
  });
});
