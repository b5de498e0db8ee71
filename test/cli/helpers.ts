/**
 * Runs the real compiled binary, bin/openvle-rq (build first: `npm test`
 * does), as a child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import type { Redis } from 'ioredis';
import { createRedis } from '../../src/engine/connection.js';
import { RedisServer } from '../helpers/redis.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'bin', 'openvle-rq');
export const PYTHON = '/usr/bin/python3';

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment children get: no Redis URL leaking in from the caller. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', COLUMNS: '80' };
  for (const k of ['RQ_REDIS_URL', 'REDIS_URL', 'RQ_SENTINELS', 'RQ_SENTINEL_MASTER', 'RQ_TLS_CA_FILE', 'RQ_TLS_CERT_FILE', 'RQ_TLS_KEY_FILE', 'NODE_OPTIONS', 'OPENVLE_RQ_DEBUG']) delete env[k];
  return { ...env, ...extra };
}

const live = new Set<ChildProcess>();

/** A running `openvle-rq ...`. */
export class Cli {
  readonly proc: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Result>;
  private listeners: Array<() => void> = [];

  constructor(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
    this.proc = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, env: cleanEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(this.proc);
    this.proc.stdout!.on('data', (d: Buffer) => {
      this.stdout += d.toString();
      this.notify();
    });
    this.proc.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      this.notify();
    });
    this.exited = new Promise((resolve) => {
      this.proc.once('close', (code, signal) => {
        live.delete(this.proc);
        this.notify();
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  get output(): string {
    return this.stdout + this.stderr;
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }

  /** Resolves when stdout+stderr match; rejects on exit or timeout. */
  waitFor(re: RegExp, ms = 15_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this.output.match(re);
        if (m) {
          done();
          resolve(m);
        } else if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
          done();
          reject(new Error(`exited before ${re}:\n${this.output}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${re}:\n${this.output}`));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== check);
      };
      this.listeners.push(check);
      check();
    });
  }

  /** Sends a signal and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<Result> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    return this.exited;
  }
}

/** Runs `openvle-rq ...` to its end; kills it after timeoutMs. */
export async function run(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<Result> {
  const c = new Cli(args, opts);
  const t = setTimeout(() => c.proc.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
  const r = await c.exited;
  clearTimeout(t);
  return r;
}

/** Kills every child still running (after hooks). */
export async function killAll(): Promise<void> {
  await Promise.all(
    [...live].map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) return resolve();
          p.once('close', () => resolve());
          p.kill('SIGKILL');
        }),
    ),
  );
}

/** A temporary directory outside the repository, with files in it. */
export function tempDir(files: Record<string, string> = {}): { dir: string; path: (f: string) => string; write: (f: string, text: string) => string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'ovrq-cli-'));
  const write = (f: string, text: string) => {
    writeFileSync(join(dir, f), text);
    return join(dir, f);
  };
  for (const [f, t] of Object.entries(files)) write(f, t);
  return { dir, path: (f) => join(dir, f), write, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs Debian's Python RQ 1.13 CLI (never with PYTHONPATH). */
export function rqCli(args: string[], cwd?: string): Promise<Result> {
  const env = cleanEnv();
  delete env.PYTHONPATH;
  delete env.PYTHONHOME;
  return new Promise((resolve) => {
    const p = spawn(PYTHON, ['-m', 'rq.cli', ...args], { cwd: cwd ?? tmpdir(), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.once('error', (err) => resolve({ code: -2, signal: null, stdout, stderr: stderr + String(err) }));
    p.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** A task module written to a directory outside the repo (no package.json there). */
export const TASKS_TS = `
import { currentJob } from 'openvle-rq';
export function add(a: number, b: number): number { return a + b; }
export async function hello(kw: { name: string }): Promise<string> { return 'hello ' + kw.name; }
export function boom(): never { throw new Error('boom'); }
export function whoami(): string { return currentJob().job.id; }
export async function sleepy(ms: number): Promise<string> {
  await new Promise((r) => setTimeout(r, ms));
  return 'slept';
}
`;

/** Runs many `openvle-rq` invocations, a few at a time (the machine may have two cores). */
export async function runMany(
  cases: string[][],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; parallel?: number } = {},
): Promise<Result[]> {
  const out: Result[] = new Array(cases.length);
  let next = 0;
  const lane = async () => {
    while (next < cases.length) {
      const i = next++;
      out[i] = await run(cases[i]!, opts);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.parallel ?? 3, cases.length) }, lane));
  return out;
}

/**
 * For a describe block: a redis-server of its own and a connection to it,
 * stopped after the block with every process it ran; then `cleanup`.
 */
export function cliRedis(cleanup: () => void = () => {}): { url: string; redis: Redis } {
  const fx = { url: '', redis: undefined as unknown as Redis };
  let server: RedisServer | undefined;
  before(async () => {
    server = await RedisServer.start();
    fx.url = server.url;
    fx.redis = createRedis(fx.url);
  });
  after(async () => {
    await killAll();
    fx.redis.disconnect();
    await server?.destroy();
    cleanup();
  });
  return fx;
}
