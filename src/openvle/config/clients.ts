import { guacamoleConfigFromEnv, type GuacamoleConfig } from '../clients/guacamole/config.js';
import { moodleConfigFromEnv, type MoodleConfig } from '../clients/moodle/config.js';
import { proxmoxConfigFromEnv, type ProxmoxConfig } from '../clients/proxmox/config.js';
import { describeSmtpConfig, smtpConfigFromEnv, type SmtpConfig } from '../clients/smtp/config.js';
import { mask, type EnvReader } from './env.js';

/**
 * Proxmox and SMTP are read only when one of their variables is set: a
 * process that never talks to them (the scheduler, a plain RQ worker, the
 * `tasks` command) must not need them, and OpenVLE itself starts without a
 * working Proxmox (every VM action then fails). A task that needs an
 * unconfigured system fails at once with a permanent_config error naming
 * the variables.
 */
function whenAnySet<T>(names: string[], read: (r: EnvReader) => T): (r: EnvReader) => T | undefined {
  return (r) => (names.some((n) => r.raw(n) !== undefined) ? read(r) : undefined);
}

export const PROXMOX_VARIABLES = ['PVE_URL', 'PVE_HOSTNAME', 'PVE_USER', 'PVE_TOKEN_NAME', 'PVE_TOKEN_VALUE'];
export const SMTP_VARIABLES = ['SMTP_HOST', 'SMTP_FROM', 'SMTP_USER', 'SMTP_PASSWORD'];

export const proxmoxSection = {
  fromEnv: whenAnySet(PROXMOX_VARIABLES, proxmoxConfigFromEnv),
  describe(c: ProxmoxConfig | undefined): Record<string, string | boolean> {
    if (!c) return { configured: false };
    return {
      apiUrl: c.apiUrl,
      user: c.user,
      tokenName: c.tokenName,
      tokenValue: mask(c.tokenValue),
      verifySsl: c.verifySsl,
      caFile: c.caFile ?? '(unset)',
      fingerprint: c.fingerprint ?? '(unset)',
      vmsPool: c.vmsPool,
      fullCloneDefault: c.fullCloneDefault,
    };
  },
};

export const guacamoleSection = {
  fromEnv: guacamoleConfigFromEnv,
  describe(c: GuacamoleConfig | undefined): Record<string, string | boolean> {
    if (!c) return { configured: false };
    return { url: c.url, dataSource: c.dataSource, username: c.username, password: mask(c.password), verifySsl: c.verifyTls, caFile: c.caFile ?? '(unset)' };
  },
};

export const moodleSection = {
  fromEnv: moodleConfigFromEnv,
  describe(c: MoodleConfig): Record<string, string | number | boolean> {
    return {
      enabled: c.enabled,
      url: c.url || '(unset)',
      token: mask(c.token),
      verifySsl: c.verifyTls,
      timeout: c.timeoutMs / 1000,
      userAuth: c.userAuth,
      studentRoleId: c.studentRoleId,
      teacherRoleId: c.teacherRoleId,
    };
  },
};

export const smtpSection = {
  fromEnv: whenAnySet(SMTP_VARIABLES, smtpConfigFromEnv),
  describe(c: SmtpConfig | undefined): Record<string, string | boolean> {
    return c ? describeSmtpConfig(c) : { configured: false };
  },
};
