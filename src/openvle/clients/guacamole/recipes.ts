import { failureClassOf, failure } from '../failure.js';
import type { CallOptions, GuacamoleClient, GuacConnection, PermissionPatch } from './client.js';

/**
 * The idempotent steps of external-apis.md §2.5. Each may run again after
 * a crash or a timeout and adopts what an earlier attempt created, found
 * by its deterministic name, instead of creating a second one.
 */

export interface ConnectionSpec {
  /** Deterministic name (e.g. from the OpenVLE connection id); unique within its parent. */
  name: string;
  parentIdentifier?: string;
  protocol: 'rdp' | 'vnc' | 'ssh' | 'telnet' | 'kubernetes';
  /** Parameter values; numbers and booleans are sent as the strings Guacamole stores. */
  parameters: Record<string, string | number | boolean>;
  attributes?: Record<string, string | null>;
  /** A sharing profile to ensure for the connection (e.g. a read-only "observe" profile). */
  sharingProfile?: { name: string; parameters?: Record<string, string> };
}

export interface EnsuredConnection {
  identifier: string;
  sharingProfileIdentifier?: string;
  /** True when an existing connection was found and brought up to date instead of created. */
  adopted: boolean;
}

function asParameters(p: Record<string, string | number | boolean>): Record<string, string> {
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, typeof v === 'boolean' ? (v ? 'true' : 'false') : String(v)]));
}

async function findConnection(client: GuacamoleClient, name: string, parent: string, opts?: CallOptions): Promise<string | undefined> {
  const all = await client.listConnections(opts);
  for (const [id, c] of Object.entries(all)) if (c.name === name && (c.parentIdentifier ?? 'ROOT') === parent) return c.identifier ?? id;
  return undefined;
}

async function findSharingProfile(client: GuacamoleClient, name: string, connectionId: string, opts?: CallOptions): Promise<string | undefined> {
  const all = await client.listSharingProfiles(opts);
  for (const [id, p] of Object.entries(all)) if (p.name === name && p.primaryConnectionIdentifier === connectionId) return p.identifier ?? id;
  return undefined;
}

/**
 * Makes sure a connection named `spec.name` exists under its parent with
 * the given parameters: adopts and updates (full PUT) an existing one,
 * else creates it; a 400 "already exists" (a concurrent or lost create)
 * leads to a re-list and adoption.
 */
export async function ensureConnection(client: GuacamoleClient, spec: ConnectionSpec, opts: CallOptions = {}): Promise<EnsuredConnection> {
  const parent = spec.parentIdentifier ?? 'ROOT';
  const body: GuacConnection = {
    name: spec.name,
    parentIdentifier: parent,
    protocol: spec.protocol,
    parameters: asParameters(spec.parameters),
    // Guacamole answers 500 when the attributes map is missing.
    attributes: spec.attributes ?? {},
  };
  let identifier = await findConnection(client, spec.name, parent, opts);
  let adopted = identifier !== undefined;
  if (identifier !== undefined) {
    await client.updateConnection(identifier, body, opts);
  } else {
    try {
      identifier = await client.createConnection(body, opts);
    } catch (err) {
      if (failureClassOf(err) !== 'already_done') throw err;
      identifier = await findConnection(client, spec.name, parent, opts);
      if (identifier === undefined) throw err;
      await client.updateConnection(identifier, body, opts);
      adopted = true;
    }
  }
  if (!spec.sharingProfile) return { identifier, adopted };
  const sp = spec.sharingProfile;
  let profileId = await findSharingProfile(client, sp.name, identifier, opts);
  if (profileId === undefined) {
    try {
      profileId = await client.createSharingProfile({ name: sp.name, primaryConnectionIdentifier: identifier, parameters: sp.parameters ?? {}, attributes: {} }, opts);
    } catch (err) {
      if (failureClassOf(err) !== 'already_done') throw err;
      profileId = await findSharingProfile(client, sp.name, identifier, opts);
      if (profileId === undefined) throw err;
    }
  }
  return { identifier, sharingProfileIdentifier: profileId, adopted };
}

export interface UserSpec {
  username: string;
  /** Only used when the user is created; an existing user keeps its password. */
  password?: string;
  fullName?: string;
  email?: string;
  disabled?: boolean;
}

/** Makes sure a Guacamole user exists; returns whether this call created it. */
export async function ensureUser(client: GuacamoleClient, spec: UserSpec, opts: CallOptions = {}): Promise<{ username: string; created: boolean }> {
  if (spec.username.trim() === '') throw failure('permanent', 'Guacamole user name must not be blank', { system: 'guacamole', operation: 'ensureUser' });
  if (await client.getUser(spec.username, opts)) return { username: spec.username, created: false };
  const disabled = spec.disabled ?? false;
  try {
    await client.createUser(
      {
        username: spec.username,
        ...(spec.password !== undefined ? { password: spec.password } : {}),
        // 1.6 reads the boolean, up to 1.5 the attribute: send both.
        disabled,
        attributes: {
          disabled: disabled ? 'true' : '',
          'guac-full-name': spec.fullName ?? '',
          'guac-email-address': spec.email ?? '',
        },
      },
      opts,
    );
    return { username: spec.username, created: true };
  } catch (err) {
    if (failureClassOf(err) === 'already_done') return { username: spec.username, created: false };
    throw err;
  }
}

export interface Grant {
  connectionId: string;
  /** Groups on the path to a nested connection; the user needs READ on each. */
  connectionGroupIds?: string[];
  /** Granting READ on a sharing profile lets the user share the connection. */
  sharingProfileId?: string;
}

function grantOps(op: 'add' | 'remove', g: Grant): PermissionPatch[] {
  return [
    { op, path: `/connectionPermissions/${g.connectionId}`, value: 'READ' },
    ...(g.connectionGroupIds ?? []).map((id): PermissionPatch => ({ op, path: `/connectionGroupPermissions/${id}`, value: 'READ' })),
    ...(g.sharingProfileId ? [{ op, path: `/sharingProfilePermissions/${g.sharingProfileId}`, value: 'READ' } as PermissionPatch] : []),
  ];
}

/** Grants READ on a connection (and its groups, its sharing profile); repeating it changes nothing. */
export async function grantConnection(client: GuacamoleClient, username: string, grant: Grant, opts: CallOptions = {}): Promise<void> {
  await client.patchPermissions(username, grantOps('add', grant), opts);
}

/** Takes the READ grants away; a user or grant already gone counts as done. */
export async function revokeConnection(client: GuacamoleClient, username: string, grant: Grant, opts: CallOptions = {}): Promise<'revoked' | 'already_done'> {
  try {
    await client.patchPermissions(username, grantOps('remove', grant), opts);
    return 'revoked';
  } catch (err) {
    if ((err as { details?: { status?: number } }).details?.status === 404) return 'already_done';
    throw err;
  }
}

/** Deletes a connection (its sharing profiles and grants go with it); a connection already gone is success. */
export async function deleteConnection(client: GuacamoleClient, identifier: string, opts: CallOptions = {}): Promise<'deleted' | 'already_done'> {
  return client.deleteConnection(identifier, opts);
}
