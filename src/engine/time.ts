/** RQ's utcformat: '%Y-%m-%dT%H:%M:%S.%fZ' (six fractional digits). */
export function utcformat(date: Date = new Date()): string {
  const iso = date.toISOString();
  // Years 0-9999 ('YYYY-MM-DDTHH:MM:SS.sssZ') take a slice, half the cost
  // of the regex: a prefetching worker stamps every job it starts.
  return iso.length === 24 ? `${iso.slice(0, 23)}000Z` : iso.replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Parses RQ's timestamps: 1 to 6 fractional digits, or none; '' is null. */
export function parseUtc(value: string | undefined | null): Date | null {
  if (!value) return null;
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?Z$/.exec(value);
  if (!m) return null;
  const ms = m[2] ? Number((m[2] + '000000').slice(0, 6)) / 1000 : 0;
  return new Date(Date.parse(`${m[1]}Z`) + Math.floor(ms));
}

/** RQ's duration strings for job_timeout: 10, '10', '10s', '5m', '2h', '1d'. */
export function parseDuration(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = /^\s*(-?\d+)\s*([smhd]?)\s*$/.exec(value);
  if (!m) throw new TypeError(`Invalid duration '${value}': use seconds or <n>s, <n>m, <n>h, <n>d`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}
