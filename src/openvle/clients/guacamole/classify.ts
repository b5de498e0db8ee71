import type { FailureClass } from '../failure.js';

/** What Guacamole answered to a call that did not succeed. */
export interface GuacamoleFailure {
  status: number;
  method: string;
  /** `type` of Guacamole's JSON error body; undefined when the body is not Guacamole JSON (a proxy page, Jersey routing). */
  type?: string;
  message?: string;
}

/** Reads Guacamole's error body ({message, type, ...}); undefined for anything else. */
export function parseGuacamoleError(text: string): { type?: string; message?: string } | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && ('type' in v || 'message' in v)) {
      const o = v as { type?: unknown; message?: unknown };
      return {
        ...(typeof o.type === 'string' ? { type: o.type } : {}),
        ...(typeof o.message === 'string' ? { message: o.message } : {}),
      };
    }
  } catch {
    /* not JSON */
  }
  return undefined;
}

/**
 * The failure class of a Guacamole answer, after external-apis.md §2.4.
 * A 403 PERMISSION_DENIED reaching here has already been retried after a
 * fresh login (GuacamoleClient does that), so it is a missing right.
 */
export function classifyGuacamole(f: GuacamoleFailure): FailureClass {
  const { status, type, message = '' } = f;
  if (type === undefined) {
    // No Guacamole JSON: a proxy in front of Tomcat, or Jersey's routing (wrong URL or context path).
    if (status >= 500 || status === 429 || status === 408) return 'transient';
    if (status === 404 || status === 405) return 'permanent_config';
    return 'permanent';
  }
  switch (status) {
    case 400:
      return /already exists\.?$/.test(message) ? 'already_done' : 'permanent';
    case 403:
      return type === 'INVALID_CREDENTIALS' || type === 'INSUFFICIENT_CREDENTIALS' ? 'permanent_config' : 'permanent';
    case 404:
      if (message.startsWith('Session not associated with authentication provider')) return 'permanent_config';
      return f.method === 'DELETE' ? 'already_done' : 'permanent';
    case 409:
      return 'transient';
    case 413:
      return 'permanent';
    case 501:
      return 'permanent';
    default:
      if (status >= 500 || status === 429) return 'transient';
      return 'permanent';
  }
}
