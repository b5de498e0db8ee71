// The rooms of the tree keep their doors: the engine stands alone, and the
// CLI, the OpenVLE layer, the simulators and the operations code (src/ops) use it only through src/index.ts.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function sources(dir: string): string[] {
  const abs = join(ROOT, dir);
  let names: string[];
  try {
    names = readdirSync(abs).sort();
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names) {
    const p = join(abs, n);
    if (statSync(p).isDirectory()) out.push(...sources(relative(ROOT, p)));
    else if (n.endsWith('.ts')) out.push(relative(ROOT, p));
  }
  return out;
}

/** Every module specifier a file names: static imports, re-exports, side-effect and dynamic imports. */
export function specifiers(text: string): string[] {
  const out: string[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)(['"])([^'"]+)\1/gm;
  for (const m of text.matchAll(re)) out.push(m[2]!);
  return out;
}

/** Repository-relative path a relative specifier points at ('' for packages). */
function target(file: string, spec: string): string {
  if (!spec.startsWith('.')) return '';
  return relative(ROOT, resolve(ROOT, dirname(file), spec)).replace(/\.js$/, '.ts');
}

/** The rule broken by `file` importing `to`, or null. */
export function violation(file: string, to: string): string | null {
  if (to === '') return null;
  if (file.startsWith('src/engine/')) {
    if (/^src\/(cli|openvle|sim|ops)\//.test(to) || to === 'src/index.ts') return 'the engine imports only itself';
  } else if (/^src\/(cli|openvle|sim|ops)\//.test(file)) {
    if (to.startsWith('src/engine/') || to === 'src/engine') return 'outside the engine, import it from src/index.ts';
  }
  return null;
}

test('the boundary rule catches what it is meant to catch', () => {
  assert.deepEqual(specifiers("import { a } from '../engine/keys.js';\nexport { b } from './x.js';\nconst m = await import('../engine/c.js');\nimport './side.js';"), [
    '../engine/keys.js',
    './x.js',
    '../engine/c.js',
    './side.js',
  ]);
  assert.ok(violation('src/cli/info.ts', target('src/cli/info.ts', '../engine/keys.js')));
  assert.ok(violation('src/openvle/clients/x.ts', target('src/openvle/clients/x.ts', '../../engine/worker/index.js')));
  assert.ok(violation('src/engine/queue.ts', target('src/engine/queue.ts', '../cli/common.js')));
  assert.equal(violation('src/cli/info.ts', target('src/cli/info.ts', '../index.js')), null);
  assert.equal(violation('src/engine/worker/worker.ts', target('src/engine/worker/worker.ts', '../job.js')), null);
});

test('the engine imports neither the CLI, the OpenVLE layer nor the simulators; they import the engine only via src/index.ts', () => {
  const files = [...sources('src/engine'), ...sources('src/cli'), ...sources('src/openvle'), ...sources('src/sim'), ...sources('src/ops')];
  assert.ok(files.some((f) => f.startsWith('src/engine/')) && files.some((f) => f.startsWith('src/cli/')), 'found the sources');
  const broken: string[] = [];
  let seen = 0;
  for (const f of files) {
    for (const spec of specifiers(readFileSync(join(ROOT, f), 'utf8'))) {
      seen++;
      const why = violation(f, target(f, spec));
      if (why) broken.push(`${f} imports '${spec}': ${why}`);
    }
  }
  assert.ok(seen > 50, `read ${seen} imports`);
  assert.deepEqual(broken, []);
});
