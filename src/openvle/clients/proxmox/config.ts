import { existsSync } from 'node:fs';
import type { EnvReader } from '../../config/env.js';

/** How the Proxmox client reaches and authenticates to the cluster. */
export interface ProxmoxConfig {
  /** API base ending in /api2/json, e.g. https://pve1.example.org:8006/api2/json */
  apiUrl: string;
  /** `user@realm` owning the API token. */
  user: string;
  tokenName: string;
  tokenValue: string;
  /** Verify the server certificate (against the system CAs, or `caFile`). Ignored when `fingerprint` is set. */
  verifySsl: boolean;
  /** PEM file of the CA (or the self-signed certificate) to trust. */
  caFile?: string;
  /** SHA-256 of the server certificate, upper-case colon hex: trusted whatever signed it. */
  fingerprint?: string;
  /** Pool new VMs are put in. */
  vmsPool: string;
  /** Full clones (independent disks) rather than linked clones when a request does not say. */
  fullCloneDefault: boolean;
}

const FINGERPRINT = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/;

/** The API base for a configured URL: appends /api2/json unless it is already there. */
export function apiUrlOf(base: string): string {
  const b = base.replace(/\/+$/, '');
  return b.endsWith('/api2/json') ? b : `${b}/api2/json`;
}

/**
 * Reads PVE_* variables. PVE_URL (any http/https base, for simulators and
 * proxies) wins over PVE_HOSTNAME (host or host:port, https, port 8006 by
 * default). Problems are recorded on the reader, one line per variable.
 */
export function proxmoxConfigFromEnv(reader: EnvReader): ProxmoxConfig {
  let apiUrl = '';
  const hostname = reader.string('PVE_HOSTNAME');
  if (reader.raw('PVE_URL') !== undefined) {
    const url = reader.url('PVE_URL');
    if (url) apiUrl = apiUrlOf(url);
  } else if (hostname) {
    if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:]+\](:\d{1,5})?$/.test(hostname)) {
      reader.problems.push(`PVE_HOSTNAME must be host or host:port (got '${hostname}')`);
    } else {
      apiUrl = `https://${/:\d{1,5}$/.test(hostname) ? hostname : `${hostname}:8006`}/api2/json`;
    }
  } else {
    reader.problems.push('PVE_HOSTNAME or PVE_URL is required');
  }
  const user = reader.required('PVE_USER');
  if (user && !/^[^\s@!:]+@[A-Za-z][A-Za-z0-9._-]*$/.test(user)) {
    reader.problems.push(`PVE_USER must be user@realm, without the token name (got '${user}')`);
  }
  const tokenName = reader.required('PVE_TOKEN_NAME');
  if (tokenName && !/^[A-Za-z][A-Za-z0-9._-]+$/.test(tokenName)) {
    reader.problems.push(`PVE_TOKEN_NAME must be a Proxmox token id (letters, digits, . _ -), got '${tokenName}'`);
  }
  const tokenValue = reader.required('PVE_TOKEN_VALUE');
  // It goes into an HTTP header: spaces or control characters would fail every call.
  if (tokenValue && !/^[\x21-\x7e]+$/.test(tokenValue)) reader.problems.push('PVE_TOKEN_VALUE must not contain spaces or control characters');
  const verifySsl = reader.bool('PVE_VERIFY_SSL', true);
  const caFile = reader.string('PVE_CA_FILE');
  if (caFile && !existsSync(caFile)) reader.problems.push(`PVE_CA_FILE ${caFile} does not exist`);
  let fingerprint = reader.string('PVE_FINGERPRINT');
  if (fingerprint) {
    fingerprint = fingerprint.toUpperCase();
    if (!FINGERPRINT.test(fingerprint)) {
      reader.problems.push('PVE_FINGERPRINT must be a SHA-256 fingerprint: 32 hex pairs separated by colons, as Proxmox shows it');
      fingerprint = undefined;
    }
  }
  return {
    apiUrl,
    user,
    tokenName,
    tokenValue,
    verifySsl,
    caFile,
    fingerprint,
    vmsPool: reader.string('PVE_VMS_POOL', 'OpenVLE-VMs'),
    fullCloneDefault: reader.bool('PVE_VMS_FULL_CLONE_DEFAULT', false),
  };
}
