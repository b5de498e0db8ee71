import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/** Seconds a call's answer is kept when the client never forgets it (it died). */
const CALL_TOKEN_TTL = 3600;
/** Per connection: tokens of calls whose replies arrived, forgotten by the next call. */
const answeredTokens = new WeakMap<Redis, string[]>();

/**
 * The ARGV tail that makes a script call safe to resend (call_token in
 * lua/include/call-token.lua). ioredis resends a command whose reply a dropped
 * connection lost; the script stores its answer under the token and answers
 * a resend from it instead of acting twice. `answered()` is called once the
 * reply is in: the next call on the connection deletes the stored answer.
 */
export function callToken(connection: Redis): { args: string[]; answered: () => void } {
  const token = randomUUID();
  let answered = answeredTokens.get(connection);
  if (!answered) answeredTokens.set(connection, (answered = []));
  const list = answered;
  return {
    args: [token, String(CALL_TOKEN_TTL), ...list.splice(0, 100)],
    answered: () => list.push(token),
  };
}
