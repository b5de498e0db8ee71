export type LogLevel = 'debug' | 'info' | 'warning' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warning: 30, error: 40 };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warning(msg: string): void;
  error(msg: string): void;
  /**
   * Whether lines of this level are written. Optional: without it every
   * level counts as on. The worker asks once, at start, so that it does
   * not build per-job lines nobody reads.
   */
  enabled?(level: LogLevel): boolean;
}

export function parseLogLevel(value: string): LogLevel {
  const v = value.toLowerCase() === 'warn' ? 'warning' : value.toLowerCase();
  if (!(v in ORDER)) throw new TypeError(`Unknown logging level '${value}': use DEBUG, INFO, WARNING or ERROR`);
  return v as LogLevel;
}

/**
 * A time as strftime writes it in local time, for rq's --date-format: %Y %m
 * %d %H %M %S %f (microseconds) and %%. Any other directive is refused,
 * so a format never prints something else than asked.
 */
export function strftime(format: string, d: Date = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return format.replace(/%(.)/g, (all, c: string) => {
    switch (c) {
      case 'Y': return String(d.getFullYear());
      case 'm': return p(d.getMonth() + 1);
      case 'd': return p(d.getDate());
      case 'H': return p(d.getHours());
      case 'M': return p(d.getMinutes());
      case 'S': return p(d.getSeconds());
      case 'f': return p(d.getMilliseconds() * 1000, 6);
      case '%': return '%';
      default: throw new TypeError(`unsupported date format directive '${all}': use %Y %m %d %H %M %S %f or %%`);
    }
  });
}

/** RQ's default format: '%(asctime)s %(message)s' with '%H:%M:%S', to stderr. */
export function consoleLogger(level: LogLevel = 'info', stream: NodeJS.WritableStream = process.stderr, dateFormat = '%H:%M:%S'): Logger {
  const min = ORDER[level];
  strftime(dateFormat); // refuses a bad format now, not at the first line
  const write = (l: LogLevel, msg: string) => {
    if (ORDER[l] < min) return;
    const t = strftime(dateFormat);
    stream.write(`${t} ${l === 'info' ? '' : l.toUpperCase() + ' '}${msg}\n`);
  };
  return {
    debug: (m) => write('debug', m),
    info: (m) => write('info', m),
    warning: (m) => write('warning', m),
    error: (m) => write('error', m),
    enabled: (l) => ORDER[l] >= min,
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warning() {}, error() {}, enabled: () => false };
