/**
 * Loading user code (task modules, cron configs) into the CLI process:
 * TypeScript through tsx's loader, and the bare specifier 'openvle-rq'
 * mapped to this package (see hooks.ts), wherever the file lives.
 */
import { existsSync, statSync } from 'node:fs';
import { register } from 'node:module';
import { extname, resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel, type MessagePort } from 'node:worker_threads';

const here = import.meta.url;
const ext = here.endsWith('.ts') ? '.ts' : '.js';
/** This package's entry module, which 'openvle-rq' resolves to. */
export const INDEX_URL = new URL(`../index${ext}`, here).href;
/**
 * The package's TypeScript entry when the CLI runs compiled in a checkout
 * (dist/ next to src/): a module of those sources, such as OpenVLE's
 * src/openvle/schedule.ts given to `openvle-rq cron`, imports it by a
 * relative path, and must get the CLI's own instance too, or its
 * cron.register fills a registry the CLI never reads.
 */
const SOURCE_INDEX_URL = ext === '.js' ? new URL('../../../src/index.ts', here).href : undefined;
/** Files under here are the package's own, not user modules. */
const PACKAGE_SRC_DIR = fileURLToPath(new URL('..', here));

let port: MessagePort | undefined;
const loaded: string[] = [];
let installed = false;
let withTsx = false;
let flushId = 0;

/**
 * Installs tsx's loader (when the tsx package is there: only TypeScript user
 * files need it) and our hooks, once per process.
 */
export async function installLoader(): Promise<void> {
  if (installed) return;
  installed = true;
  try {
    const tsx = await import('tsx/esm/api');
    // No tsconfig.json: tsx would otherwise honour one found in the working
    // directory or any parent, whose `paths` could map an import of a task
    // module onto a file someone else wrote.
    tsx.register({ tsconfig: false });
    withTsx = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
  }
  // Registered after tsx, so these hooks run first and hand on to tsx's.
  const channel = new MessageChannel();
  port = channel.port1;
  port.on('message', (m: { type?: string; url?: string }) => {
    if (m?.type === 'load' && m.url) loaded.push(m.url);
  });
  port.unref();
  register(new URL(`./hooks${ext}`, here), {
    data: { indexUrl: INDEX_URL, aliases: SOURCE_INDEX_URL && existsSync(fileURLToPath(SOURCE_INDEX_URL)) ? [SOURCE_INDEX_URL] : [], port: channel.port2 },
    transferList: [channel.port2],
  });
}

const TS = ['.ts', '.mts', '.cts', '.tsx'];
const TS_OR_JS = [...TS, '.js', '.mjs', '.cjs', '.jsx'];

/** An absolute path for a user file; a one-line error when it is missing or of an unknown kind. */
export function userFile(path: string, what: string): string {
  const abs = resolvePath(path);
  if (!existsSync(abs) || !statSync(abs).isFile()) throw new Error(`${what} '${path}' not found`);
  if (!TS_OR_JS.includes(extname(abs))) throw new Error(`${what} '${path}' must be a .ts, .js or .mjs file`);
  return abs;
}

/** Imports a user module (installing the loader first). */
export async function importUser(abs: string): Promise<Record<string, unknown>> {
  await installLoader();
  if (!withTsx && TS.includes(extname(abs))) {
    throw new Error(`'${abs}' is TypeScript, which needs the tsx package to load (npm install tsx), and tsx is not installed`);
  }
  return (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
}

/** Every file module loaded since the loader was installed, in load order. */
export async function loadedModules(): Promise<string[]> {
  if (port) {
    const p = port;
    const id = ++flushId;
    p.ref();
    await new Promise<void>((done) => {
      const on = (m: { type?: string; id?: number }) => {
        if (m?.type === 'flushed' && m.id === id) {
          p.off('message', on);
          done();
        }
      };
      p.on('message', on);
      p.postMessage({ type: 'flush', id });
    });
    p.unref();
  }
  return [...new Set(loaded)];
}

/** Is this module URL a user's (not this package's, not a dependency's)? */
export function isUserModule(url: string): boolean {
  if (!url.startsWith('file:')) return false;
  const path = fileURLToPath(url.split('?')[0]!);
  if (path.includes(`${'/'}node_modules${'/'}`)) return false;
  return !path.startsWith(PACKAGE_SRC_DIR);
}
