import type { Logger } from '../../../src/index.js';

/** A logger that keeps every line, for tests that check what clients log (and that no secret is in it). */
export function captureLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (level: string) => (msg: string) => {
    lines.push(`${level} ${msg}`);
  };
  return { lines, debug: keep('debug'), info: keep('info'), warning: keep('warning'), error: keep('error') };
}
