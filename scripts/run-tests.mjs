#!/usr/bin/env node
// Runs test files with node's test runner under tsx, after a type check of
// the whole tree.
//   node scripts/run-tests.mjs                 every tier
//   node scripts/run-tests.mjs --tier unit     one tier (unit, cli, interop, chaos)
//   node scripts/run-tests.mjs test/x.test.ts  the files given
// Tiers are directories: test/cli, test/interop and test/chaos are their own
// tiers; every other test/** file (engine, openvle, sim, ...) is unit.
// Node 20's --test takes no globs, so the files are listed here.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const TIERS = ['unit', 'cli', 'interop', 'chaos'];

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

function tierOf(file) {
  const m = /^test[\\/]([^\\/]+)[\\/]/.exec(file);
  return m && TIERS.includes(m[1]) ? m[1] : 'unit';
}

const argv = process.argv.slice(2);
let files;
const t = argv.indexOf('--tier');
if (t >= 0) {
  const tier = argv[t + 1];
  if (!TIERS.includes(tier)) {
    console.error(`error: unknown tier '${tier}': use ${TIERS.join(', ')}`);
    process.exit(2);
  }
  files = find('test').filter((f) => tierOf(f) === tier);
} else {
  files = argv.length ? argv : find('test');
}
if (files.length === 0) {
  console.error('error: no test files');
  process.exit(2);
}

const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit' }).status ?? 1;
let status = run('npx', ['tsc', '-p', 'tsconfig.check.json']);
if (status !== 0) process.exit(status);
// The CLI, interop and chaos tiers run bin/openvle-rq, which runs dist/ when
// it exists: build it, so that no test runs a stale build.
if (files.some((f) => tierOf(f) !== 'unit')) {
  status = run('npx', ['tsc', '-p', 'tsconfig.json']);
  if (status !== 0) process.exit(status);
}
status = run(process.execPath, [
  '--import',
  'tsx',
  '--test',
  '--test-reporter=spec',
  `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`,
  ...files,
]);
process.exit(status);
