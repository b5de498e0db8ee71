import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const root = resolve(import.meta.dirname, '../..');

function files(dir: string): string[] {
  const abs = join(root, dir);
  try {
    statSync(abs);
  } catch {
    return [];
  }
  return readdirSync(abs, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(abs, f));
}

/** Every relative import of a file, resolved to a path under the repository. */
function imports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(/(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
    out.push(relative(root, resolve(dirname(file), (m[1] ?? m[2])!)));
  }
  return out;
}

test('the OpenVLE layer and the simulators use the engine only through src/index.ts', () => {
  const bad: string[] = [];
  for (const f of [...files('src/openvle'), ...files('src/sim')]) {
    for (const target of imports(f)) {
      if (target.startsWith('src/engine') || target.startsWith('src/cli')) bad.push(`${relative(root, f)} -> ${target}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('the engine imports neither the CLI nor the OpenVLE layer nor the simulators', () => {
  const bad: string[] = [];
  for (const f of files('src/engine')) {
    for (const target of imports(f)) {
      if (/^src\/(cli|openvle|sim)(\/|$)/.test(target)) bad.push(`${relative(root, f)} -> ${target}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('the import reader sees the imports it checks', () => {
  // guards the two tests above from passing because the pattern matched nothing
  const seen = imports(join(root, 'src/openvle/tracking/attempt.ts'));
  assert.ok(seen.includes('src/index.js'), seen.join(', '));
});
