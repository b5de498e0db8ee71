/**
 * Module customization hooks (node:module register), run in Node's hooks
 * thread. They make `import ... from 'openvle-rq'` in a cron config or task
 * module anywhere on disk load this very package (the CLI's own module
 * instance, so `cron.register` fills the registry the CLI reads; so does
 * an import of the package's source entry from its own sources when the
 * CLI runs compiled), and they
 * report every file module loaded, so the CLI can name the functions a
 * config registers.
 */
import { readFileSync } from 'node:fs';
import type { InitializeHook, LoadHook, ResolveHook } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { MessagePort } from 'node:worker_threads';

interface HookData {
  indexUrl: string;
  /** Other URLs of this package's entry (its sources next to a build) that load indexUrl instead. */
  aliases?: string[];
  port?: MessagePort;
}

let indexUrl = '';
let aliases = new Set<string>();
let port: MessagePort | undefined;

export const initialize: InitializeHook<HookData> = (data) => {
  indexUrl = data.indexUrl;
  aliases = new Set(data.aliases ?? []);
  port = data.port;
  port?.on('message', (m: { type?: string; id?: number }) => {
    // Replies after every 'load' message posted before it (same port, FIFO).
    if (m?.type === 'flush') port!.postMessage({ type: 'flushed', id: m.id });
  });
  port?.unref();
};

/** The file URL without the query tsx adds for CommonJS files imported from ES modules. */
function plainFileUrl(url: string): string {
  if (!url.startsWith('file:') || !url.includes('tsx-commonjs')) return url;
  let path = decodeURIComponent(new URL(url).pathname);
  const q = path.indexOf('?');
  if (q >= 0) path = path.slice(0, q);
  return pathToFileURL(path).href;
}

/** A user's .ts/.js file that package rules would load as CommonJS though it has import/export. */
function esmInCjsScope(url: string, format: string | null | undefined): boolean {
  return (
    format === 'commonjs' &&
    url.startsWith('file:') &&
    !url.includes('/node_modules/') &&
    /\.(ts|tsx|js|jsx)$/.test(url) &&
    hasEsmSyntax(url)
  );
}

export const resolve: ResolveHook = async (specifier, context, nextResolve) => {
  if (specifier === 'openvle-rq') return { url: indexUrl, format: 'module', shortCircuit: true };
  const result = await nextResolve(specifier, context);
  if (aliases.has(result.url)) return { url: indexUrl, format: 'module', shortCircuit: true };
  // A .ts or .js file with import/export outside a "type": "module" package
  // would be loaded as CommonJS (and tsx fails on it on Node 20.19+): load it
  // as the ES module it is.
  const url = plainFileUrl(result.url);
  if (esmInCjsScope(url, result.format)) return { ...result, url, format: 'module' };
  return result;
};

/** import/export statements (not import()): the file is an ES module whatever its package says. */
const ESM_SYNTAX = /^[ \t]*(import[ \t]*[{*'"]|import[ \t]+[\w$]|export[ \t]*[{*]|export[ \t]+[\w$])/m;

function hasEsmSyntax(url: string): boolean {
  try {
    return ESM_SYNTAX.test(readFileSync(fileURLToPath(url), 'utf8'));
  } catch {
    return false;
  }
}

export const load: LoadHook = async (url, context, nextLoad) => {
  let result = await nextLoad(url, context);
  if (esmInCjsScope(url, result.format)) result = await nextLoad(url, { ...context, format: 'module' });
  if (port && url.startsWith('file:')) port.postMessage({ type: 'load', url });
  return result;
};
