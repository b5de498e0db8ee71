import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// One home for the engine's defaults, as RQ's defaults.py. The Lua scripts
// take every TTL as an argument, so these are the only copies.

/** Seconds a job may run (RQ's DEFAULT_JOB_TIMEOUT). */
export const DEFAULT_JOB_TIMEOUT = 180;
/** Seconds a finished job and its result are kept (RQ's DEFAULT_RESULT_TTL). */
export const DEFAULT_RESULT_TTL = 500;
/** Seconds a failed job is kept (RQ's DEFAULT_FAILURE_TTL: one year). */
export const DEFAULT_FAILURE_TTL = 31536000;
/** Worker key TTL is this + 60 while idle (RQ's DEFAULT_WORKER_TTL). */
export const DEFAULT_WORKER_TTL = 420;
/** Seconds a success, failure or stopped callback may run (RQ's CALLBACK_TIMEOUT). */
export const DEFAULT_CALLBACK_TIMEOUT = 60;
/** Seconds between worker heartbeats (RQ: 30; ours is shorter so that death is noticed sooner). */
export const DEFAULT_JOB_MONITORING_INTERVAL = 5;
/** Seconds without a heartbeat after which a running job counts as abandoned. */
export const DEFAULT_DEAD_WORKER_TIMEOUT = 20;
/** Seconds between passes that look for abandoned jobs. */
export const DEFAULT_RECOVERY_INTERVAL = 5;
/**
 * Seconds between a worker's passes that drop expired registry entries (RQ's
 * clean_registries, every 600 s there): expired entries leave within a
 * minute of their expiry.
 */
export const DEFAULT_CLEAN_INTERVAL = 30;
/** Entries one clean-registries call handles per registry: no call stalls Redis. */
export const CLEAN_BATCH = 1000;
/** Ms between checks for jobs pushed by producers that do not wake workers (Python RQ). */
export const DEFAULT_IDLE_POLL_INTERVAL_MS = 1000;
/** Newest entries kept in a cron job's history (rq:cron_job:<name>:jobs), as rq. */
export const CRON_HISTORY_LIMIT = 1000;
/** Seconds a cron job's history is kept, as rq: one year. */
export const CRON_HISTORY_TTL = 31536000;

function readVersion(): string {
  // src/engine (tsx) and dist/src/engine (compiled) both sit below the package root.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'openvle-rq' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      /* not here: look one level up */
    }
    dir = dirname(dir);
  }
  throw new Error("openvle-rq: cannot find the package's package.json");
}

/** The package version, as written in the `version` field of worker hashes and printed by `--version`. */
export const ENGINE_VERSION = readVersion();

/**
 * Lanes a worker with concurrency > 1 splits its slots into (worker/lanes.ts),
 * capped at the concurrency; 1 with prefetch. Chosen by the bench's A/B
 * (bench/README.md, "Lanes, third measurement").
 */
export const DEFAULT_WORKER_LANES = 2;
