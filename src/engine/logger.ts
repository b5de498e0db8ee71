export type LogLevel = 'debug' | 'info' | 'warning' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warning: 30, error: 40 };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warning(msg: string): void;
  error(msg: string): void;
}

export function parseLogLevel(value: string): LogLevel {
  const v = value.toLowerCase() === 'warn' ? 'warning' : value.toLowerCase();
  if (!(v in ORDER)) throw new TypeError(`Unknown logging level '${value}': use DEBUG, INFO, WARNING or ERROR`);
  return v as LogLevel;
}

/** RQ's default format: '%(asctime)s %(message)s' with '%H:%M:%S', to stderr. */
export function consoleLogger(level: LogLevel = 'info', stream: NodeJS.WritableStream = process.stderr): Logger {
  const min = ORDER[level];
  const write = (l: LogLevel, msg: string) => {
    if (ORDER[l] < min) return;
    const t = new Date().toTimeString().slice(0, 8);
    stream.write(`${t} ${l === 'info' ? '' : l.toUpperCase() + ' '}${msg}\n`);
  };
  return {
    debug: (m) => write('debug', m),
    info: (m) => write('info', m),
    warning: (m) => write('warning', m),
    error: (m) => write('error', m),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warning() {}, error() {} };
