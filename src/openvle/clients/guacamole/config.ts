import { accessSync, constants } from 'node:fs';
import type { EnvReader } from '../../config/env.js';

export interface GuacamoleConfig {
  /** Base URL including the context path, no trailing slash: https://host/guacamole. */
  url: string;
  /** Data source that stores the objects (`mysql`, `postgresql`, `sqlserver`): the {ds} of /api/session/data/{ds}. */
  dataSource: string;
  username: string;
  password: string;
  verifyTls: boolean;
  caFile?: string;
  /** Per-call deadline; external-apis.md §5 gives Guacamole 30 s. */
  timeoutMs: number;
}

/**
 * Reads GUACAMOLE_* into a configuration, recording one problem per bad
 * variable on the reader. Guacamole is optional in OpenVLE: with none of
 * GUACAMOLE_URL, GUACAMOLE_USERNAME, GUACAMOLE_PASSWORD set the result is
 * undefined (integration off); once any is set, all three are required.
 */
export function guacamoleConfigFromEnv(reader: EnvReader): GuacamoleConfig | undefined {
  if (!reader.raw('GUACAMOLE_URL') && !reader.raw('GUACAMOLE_USERNAME') && !reader.raw('GUACAMOLE_PASSWORD')) return undefined;
  const url = reader.url('GUACAMOLE_URL', { required: true }) ?? '';
  const dataSource = reader.string('GUACAMOLE_DB_TYPE', 'mysql');
  if (!/^[A-Za-z0-9_-]+$/.test(dataSource)) reader.problems.push(`GUACAMOLE_DB_TYPE must be a data source name such as mysql or postgresql (got '${dataSource}')`);
  const username = reader.required('GUACAMOLE_USERNAME', 'is required when GUACAMOLE_URL is set');
  const password = reader.required('GUACAMOLE_PASSWORD', 'is required when GUACAMOLE_URL is set');
  const verifyTls = reader.bool('GUACAMOLE_VERIFY_SSL', true);
  const caFile = reader.string('GUACAMOLE_CA_FILE');
  if (caFile) {
    try {
      accessSync(caFile, constants.R_OK);
    } catch {
      reader.problems.push(`GUACAMOLE_CA_FILE cannot be read: ${caFile}`);
    }
  }
  return { url, dataSource, username, password, verifyTls, ...(caFile ? { caFile } : {}), timeoutMs: 30_000 };
}
