#!/usr/bin/env node
// Runs test files with node's test runner under tsx, after a type check of
// the whole tree.
//   node scripts/run-tests.mjs                 every tier
//   node scripts/run-tests.mjs --tier unit     one tier (unit, cli, interop, chaos, ...)
//   node scripts/run-tests.mjs test/x.test.ts  the files given
// Tiers are the directories under test/: unit is test/engine, test/openvle
// and test/sim (no child processes); every other directory (cli, interop,
// chaos, ...) is a tier of its own.
// Node 20's --test takes no globs, so the files are listed here.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const UNIT_DIRS = ['engine', 'openvle', 'sim'];

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
  const dir = /^test[\\/]([^\\/]+)[\\/]/.exec(file)?.[1] ?? 'unit';
  return UNIT_DIRS.includes(dir) ? 'unit' : dir;
}

const argv = process.argv.slice(2);
let files;
const t = argv.indexOf('--tier');
if (t >= 0) {
  const tier = argv[t + 1];
  const all = find('test');
  const tiers = [...new Set(all.map(tierOf))].sort();
  if (!tiers.includes(tier)) {
    console.error(`error: unknown tier '${tier}': use ${tiers.join(', ')}`);
    process.exit(2);
  }
  files = all.filter((f) => tierOf(f) === tier);
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
// The tiers beyond unit run bin/openvle-rq or worker processes, and the
// binary runs dist/ when it exists: build it, so no test runs a stale build.
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
