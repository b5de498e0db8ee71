import { startGuacamoleSim, type GuacamoleSim } from './guacamole/server.js';
import { startMoodleSim, type MoodleSim } from './moodle/server.js';
import { startProxmoxSim, type ProxmoxSim } from './proxmox/server.js';
import { startSmtpSim, type SmtpSim } from './smtp/index.js';

/** The four simulated outside systems OpenVLE talks to, and the variables that point OpenVLE at them. */
export interface SimWorld {
  proxmox: ProxmoxSim;
  guacamole: GuacamoleSim;
  moodle: MoodleSim;
  smtp: SmtpSim;
  /** PVE_*, GUACAMOLE_*, MOODLE_*, SMTP_* for these servers (plain HTTP and SMTP without TLS). */
  env: Record<string, string>;
  close(): Promise<void>;
}

export interface SimWorldOptions {
  /** Proxmox task duration in ms (clones, starts, ...); default 200. */
  taskMs?: number;
  /** Moodle core_course_duplicate_course duration in ms; default 100. */
  moodleDuplicateMs?: number;
}

/**
 * Starts Proxmox (nodes pve-a, pve-b; pool OpenVLE-VMs), Guacamole (data
 * source mysql), Moodle and an SMTP server, each on a free loopback port,
 * empty of templates and courses: callers add what their story needs.
 */
export async function startSimWorld(opts: SimWorldOptions = {}): Promise<SimWorld> {
  const started: Array<{ close(): Promise<unknown> | void }> = [];
  try {
    const proxmox = await startProxmoxSim({});
    started.push(proxmox);
    proxmox.state.setTaskDuration('default', opts.taskMs ?? 200);
    const guacamole = await startGuacamoleSim({ contextPath: '/guacamole', dataSources: ['mysql'], admins: { guacadmin: 'sim-guac-password' } });
    started.push(guacamole);
    const moodleToken = 'sim-moodle-token';
    const moodle = await startMoodleSim({ tokens: { [moodleToken]: {} }, duplicateDelayMs: opts.moodleDuplicateMs ?? 100 });
    started.push(moodle);
    const smtp = await startSmtpSim({ tls: 'none' });
    started.push(smtp);
    const env: Record<string, string> = {
      PVE_URL: proxmox.url,
      PVE_USER: proxmox.token.user,
      PVE_TOKEN_NAME: proxmox.token.tokenId,
      PVE_TOKEN_VALUE: proxmox.token.secret,
      GUACAMOLE_URL: guacamole.url,
      GUACAMOLE_DB_TYPE: 'mysql',
      GUACAMOLE_USERNAME: 'guacadmin',
      GUACAMOLE_PASSWORD: 'sim-guac-password',
      MOODLE_ENABLED: 'True',
      MOODLE_URL: moodle.url,
      MOODLE_TOKEN: moodleToken,
      SMTP_HOST: smtp.host,
      SMTP_PORT: String(smtp.port),
      SMTP_SECURITY: 'none',
      SMTP_FROM: 'OpenVLE <noreply@openvle.test>',
    };
    return {
      proxmox,
      guacamole,
      moodle,
      smtp,
      env,
      close: async () => {
        await Promise.allSettled(started.map((s) => s.close()));
      },
    };
  } catch (err) {
    await Promise.allSettled(started.map((s) => s.close()));
    throw err;
  }
}
