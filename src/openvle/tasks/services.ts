import type { Redis } from 'ioredis';
import { Queue, silentLogger, type Logger } from '../../index.js';
import { GuacamoleClient } from '../clients/guacamole/index.js';
import { MoodleClient } from '../clients/moodle/index.js';
import { ProxmoxClient } from '../clients/proxmox/index.js';
import { SmtpClient } from '../clients/smtp/index.js';
import { PermanentExternalError, type FailureDetails } from '../clients/failure.js';
import { PROXMOX_VARIABLES, SMTP_VARIABLES } from '../config/clients.js';
import type { OpenVleConfig } from '../config/config.js';
import type { Pool } from '../db/pool.js';
import type { QueueName } from '../queues.js';

/** Options the clients take besides their configuration (tests poll Proxmox tasks fast). */
export interface ClientOptions {
  proxmox?: ConstructorParameters<typeof ProxmoxClient>[1];
}

/**
 * What a task handler may use. Clients are made on first use, so a worker
 * that never sends mail needs no SMTP server; a task that needs a system
 * that is not configured fails at once (permanent_config), naming the
 * variables to set, instead of being retried for nothing.
 */
export interface TaskServices {
  config: OpenVleConfig;
  pool: Pool;
  /** The engine's connection: follow-up jobs are enqueued on it. */
  redis: Redis;
  log: Logger;
  proxmox(): ProxmoxClient;
  guacamole(): GuacamoleClient;
  /** Undefined when MOODLE_ENABLED is false: Moodle tasks then skip. */
  moodle(): MoodleClient | undefined;
  smtp(): SmtpClient;
  queue(name: QueueName): Queue;
  close(): Promise<void>;
}

function notConfigured(system: FailureDetails['system'], what: string): PermanentExternalError {
  return new PermanentExternalError(`${system} is not configured: set ${what}`, 'permanent_config', { system });
}

export function createTaskServices(opts: {
  config: OpenVleConfig;
  pool: Pool;
  redis: Redis;
  log?: Logger;
  clients?: ClientOptions;
}): TaskServices {
  const log = opts.log ?? silentLogger;
  const { config } = opts;
  let proxmox: ProxmoxClient | undefined;
  let guacamole: GuacamoleClient | undefined;
  let moodle: MoodleClient | undefined;
  let smtp: SmtpClient | undefined;
  const queues = new Map<string, Queue>();
  return {
    config,
    pool: opts.pool,
    redis: opts.redis,
    log,
    proxmox() {
      if (!config.proxmox) throw notConfigured('proxmox', PROXMOX_VARIABLES.join(', '));
      return (proxmox ??= new ProxmoxClient(config.proxmox, { logger: log, ...opts.clients?.proxmox }));
    },
    guacamole() {
      if (!config.guacamole) throw notConfigured('guacamole', 'GUACAMOLE_URL, GUACAMOLE_USERNAME, GUACAMOLE_PASSWORD');
      return (guacamole ??= new GuacamoleClient(config.guacamole, { logger: log }));
    },
    moodle() {
      if (!config.moodle.enabled) return undefined;
      return (moodle ??= new MoodleClient(config.moodle, { logger: log }));
    },
    smtp() {
      if (!config.smtp) throw notConfigured('smtp', SMTP_VARIABLES.join(', '));
      return (smtp ??= new SmtpClient(config.smtp, { logger: log }));
    },
    queue(name) {
      let q = queues.get(name);
      if (!q) queues.set(name, (q = new Queue(name, opts.redis)));
      return q;
    },
    async close() {
      await Promise.allSettled([proxmox?.close(), guacamole?.close(), moodle?.close(), smtp?.close()]);
    },
  };
}
