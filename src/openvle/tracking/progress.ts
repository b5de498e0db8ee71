/**
 * Writes a running Task's progress at most once per `interval` ms: the
 * first report goes out at once, later ones within the interval collapse
 * into one trailing write of the latest value. Handlers may report as
 * often as they like; the database sees a few writes a second.
 */
export class ProgressThrottle {
  private latest: { percent: number; message: string | undefined } | undefined;
  private lastWrite = 0;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly write: (percent: number, message: string | undefined) => Promise<void>,
    private readonly interval = 250,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  report(percent: number, message?: string): void {
    if (this.closed || !Number.isFinite(percent)) return;
    this.latest = { percent: Math.max(0, Math.min(100, Math.round(percent))), message };
    if (this.timer) return;
    const wait = this.lastWrite + this.interval - Date.now();
    if (wait <= 0) this.send();
    else this.timer = setTimeout(() => ((this.timer = undefined), this.send()), wait);
  }

  private send(): void {
    const v = this.latest;
    if (!v) return;
    this.latest = undefined;
    this.lastWrite = Date.now();
    // One write at a time, in order: a slow write never lands after a later one.
    this.chain = this.chain.then(() => this.write(v.percent, v.message)).catch(this.onError);
  }

  /** Writes what is pending now and waits for every write. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.send();
    await this.chain;
  }

  /** Drops what is pending and waits for writes in flight; later reports are ignored. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.latest = undefined;
    await this.chain;
  }
}
