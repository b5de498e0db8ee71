import { EnvReader, type Env } from './env.js';
import { guacamoleSection, moodleSection, proxmoxSection, smtpSection } from './clients.js';
import { describeMariaDb, mariadbConfigFromEnv } from './mariadb.js';
import { describeMongo, describeWorker, mongoConfigFromEnv, workerConfigFromEnv } from './worker.js';

/**
 * One named part of the configuration: how to read it (recording problems
 * on the reader, never throwing) and how to show it with secrets masked.
 */
export interface ConfigSection<T> {
  fromEnv(reader: EnvReader): T;
  describe(value: T): Record<string, string | number | boolean>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Sections = Record<string, ConfigSection<any>>;
export type ConfigOf<S extends Sections> = { [K in keyof S]: ReturnType<S[K]['fromEnv']> };

/** OpenVLE's sections; `config/clients.ts` holds the outside systems'. */
export const OPENVLE_SECTIONS = {
  mariadb: { fromEnv: mariadbConfigFromEnv, describe: describeMariaDb },
  mongodb: { fromEnv: mongoConfigFromEnv, describe: describeMongo },
  worker: { fromEnv: workerConfigFromEnv, describe: describeWorker },
  proxmox: proxmoxSection,
  guacamole: guacamoleSection,
  moodle: moodleSection,
  smtp: smtpSection,
} satisfies Sections;

export type OpenVleConfig = ConfigOf<typeof OPENVLE_SECTIONS>;

/**
 * Reads every section from the environment. Throws a ConfigError listing
 * every problem of every section, one line each; never a value of a secret.
 */
export function loadConfig(env: Env): OpenVleConfig;
export function loadConfig<S extends Sections>(env: Env, sections: S): ConfigOf<S>;
export function loadConfig(env: Env, sections: Sections = OPENVLE_SECTIONS): Record<string, unknown> {
  const reader = new EnvReader(env);
  const out: Record<string, unknown> = {};
  for (const [name, section] of Object.entries(sections)) out[name] = section.fromEnv(reader);
  reader.check();
  return out;
}

/** The effective configuration as `section.key = value` lines, secrets masked (for `openvle-rq config`). */
export function describeConfig(config: OpenVleConfig): string[];
export function describeConfig<S extends Sections>(config: ConfigOf<S>, sections: S): string[];
export function describeConfig(config: Record<string, unknown>, sections: Sections = OPENVLE_SECTIONS): string[] {
  const lines: string[] = [];
  for (const [name, section] of Object.entries(sections)) {
    if (!(name in config)) continue;
    for (const [k, v] of Object.entries(section.describe(config[name]))) lines.push(`${name}.${k} = ${String(v)}`);
  }
  return lines;
}
