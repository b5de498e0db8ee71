/** A Proxmox task id (external-apis.md §1.5): `UPID:node:pid:pstart:starttime:type:id:user:`. */
export interface Upid {
  upid: string;
  /** The node running the task: poll this one. */
  node: string;
  pid: number;
  pstart: number;
  /** Unix seconds. */
  starttime: number;
  type: string;
  id: string;
  user: string;
}

/** Parses a UPID; throws a TypeError for anything that is not one. */
export function parseUpid(upid: string): Upid {
  const parts = typeof upid === 'string' ? upid.split(':') : [];
  const [tag, node, pid, pstart, starttime, type, id, user, last] = parts;
  if (
    parts.length !== 9 || tag !== 'UPID' || last !== '' || !node || !type || !user ||
    !/^[0-9A-Fa-f]{8}$/.test(pid!) || !/^[0-9A-Fa-f]{8,9}$/.test(pstart!) || !/^[0-9A-Fa-f]{8}$/.test(starttime!)
  ) {
    throw new TypeError(`not a Proxmox UPID: '${String(upid).slice(0, 200)}'`);
  }
  return {
    upid,
    node,
    pid: parseInt(pid!, 16),
    pstart: parseInt(pstart!, 16),
    starttime: parseInt(starttime!, 16),
    type,
    id: id!,
    user,
  };
}
