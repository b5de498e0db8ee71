/**
 * Placeholders as OpenVLE's templates write them: `{user.name}`,
 * `{event.name}`: a dotted name in braces. Values are looked up in a flat
 * map of dotted names; an unknown placeholder is left as written, so a
 * template author sees it in the sent mail instead of a silent blank.
 */
const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}/g;

export type MailVariables = Record<string, string>;

/** Flattens nested objects into dotted names: `{user: {name: 'A'}}` → `{'user.name': 'A'}`. */
export function flattenVariables(value: Record<string, unknown>, prefix = '', out: MailVariables = {}): MailVariables {
  for (const [k, v] of Object.entries(value)) {
    const name = prefix ? `${prefix}.${k}` : k;
    if (v === null || v === undefined) continue;
    if (typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)) flattenVariables(v as Record<string, unknown>, name, out);
    else out[name] = v instanceof Date ? v.toISOString().slice(0, 10) : Array.isArray(v) ? v.map(String).join(', ') : String(v);
  }
  return out;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Fills the HTML content: values are escaped, since they come from users (names) and must not inject markup. */
export function renderHtml(template: string, vars: MailVariables): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => (Object.prototype.hasOwnProperty.call(vars, name) ? escapeHtml(vars[name]!) : whole));
}

/** Fills the subject: plain text, one line (a line break in a value would otherwise forge headers). */
export function renderSubject(template: string, vars: MailVariables): string {
  const filled = template.replace(PLACEHOLDER, (whole, name: string) => (Object.prototype.hasOwnProperty.call(vars, name) ? vars[name]! : whole));
  return filled.replace(/[\r\n]+/g, ' ').trim().slice(0, 998);
}
