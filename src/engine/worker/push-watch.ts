import type { Redis } from 'ioredis';
import { keys } from '../keys.js';

/**
 * Tells an idle worker at once that a job was pushed onto one of its queues
 * by a producer that does not wake it (Python RQ's enqueue is a plain RPUSH,
 * with no publish). Uses client-side-caching invalidations (CLIENT TRACKING,
 * Redis >= 6), which need no server configuration, unlike keyspace
 * notifications:
 *
 * - a connection of ours tracks in OPTIN mode, redirected to a second one
 *   subscribed to `__redis__:invalidate`;
 * - `arm()` reads the queue keys (`EXISTS q1 q2 ...` right after
 *   `CLIENT CACHING yes`), so Redis remembers that we read them; the next
 *   write to any of them by another client sends one invalidation, then
 *   Redis forgets the key until it is read again. Arming is once per idle
 *   spell: a busy worker never arms, so busy queues cost nothing, and an
 *   idle one costs Redis nothing until something is pushed.
 *
 * Jobs never leave their queue for this: the wake-up only makes the worker
 * run its usual dequeue script, which moves the job to wip atomically, so a
 * worker that dies in between loses nothing. A blocking pop (RQ 2.10's
 * BLMOVE into its intermediate list) would take the job out of the queue
 * before it is in a registry, and takes one queue per connection.
 *
 * The invalidation connection speaks RESP2: under RESP3 Redis sends
 * invalidations as `invalidate` push frames, which ioredis drops; under
 * RESP2 they arrive as pub/sub messages. Without CLIENT TRACKING (Redis < 6)
 * or while either connection reconnects, `active` is false and the worker
 * polls as before.
 */
export class PushWatch {
  /** Tracks the queue keys (OPTIN); never writes, so none of its own commands invalidate. */
  private tracker: Redis | undefined;
  /** Receives the invalidations (RESP2, subscribed to `__redis__:invalidate`). */
  private watcher: Redis | undefined;
  private gen = 0;
  private stopped = false;
  /** The watcher's client id, '' until it has subscribed on its current connection. */
  private watcherId = '';
  /** True once the tracking redirect is in place on the current connections. */
  active = false;
  /** True while the queue keys are tracked and no invalidation came since. */
  armed = false;
  /** Bumped by every invalidation, so that an arm() reply that crosses one does not count. */
  private armEpoch = 0;
  /**
   * Set when arm() found jobs: the caller's dequeue is about to write a key
   * this tracking has just read, and the invalidation that write sends is
   * no news. The next invalidation ends the tracking without a wake-up. Safe
   * because the worker arms again before it sleeps (`armed` is false until
   * then) and that arm's EXISTS sees every job; the one skipped was sent
   * before that arm was read (some key had to be written between a found
   * and an empty EXISTS), so it is never one that a later push sends.
   */
  private skipNext = false;

  constructor(
    private readonly connection: Redis,
    private readonly queues: string[],
    /** A queue key was written, or tracking was (re)established: look for work. */
    private readonly onPush: () => void,
    private readonly debug: (msg: string) => void,
  ) {}

  /** Connects both connections and sets tracking up (or settles for polling). */
  async start(): Promise<void> {
    // Their own connections, not the worker's: tracking state belongs to a
    // connection, and a caller may share one command connection among workers.
    const tracker = this.connection.duplicate({ enableOfflineQueue: false, connectionName: undefined });
    const watcher = this.connection.duplicate({ protocol: 2, autoResubscribe: false, enableOfflineQueue: false, connectionName: undefined });
    this.tracker = tracker;
    this.watcher = watcher;
    for (const c of [tracker, watcher]) {
      c.on('error', () => {});
      // Polling until 'ready' sets the watch up again.
      c.on('close', () => {
        this.gen++;
        this.active = false;
        this.armed = false;
      });
    }
    tracker.on('ready', () => void this.establish());
    watcher.on('ready', () => {
      this.watcherId = '';
      void this.establish();
    });
    const queueKeys = new Set(this.queues.map(keys.queue));
    watcher.on('message', (channel: string, message: string) => {
      if (channel !== TRACKING_CHANNEL) return;
      // ioredis joins a RESP2 invalidation's key names with commas; an empty
      // one is a FLUSHALL/FLUSHDB, which drops every tracked key.
      if (message === '' || message.split(',').some((k) => queueKeys.has(k))) {
        this.armed = false;
        this.armEpoch++;
        if (this.skipNext) this.skipNext = false;
        else this.onPush();
      }
    });
    const ready = Promise.all([tracker, watcher].map((c) => (c.status === 'ready' ? undefined : new Promise<void>((r) => c.once('ready', () => r())))));
    // The worker starts anyway (polling) if they cannot connect now (e.g.
    // maxclients); 'ready' sets the watch up whenever they do.
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = await Promise.race([ready.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), 5000)))]);
    clearTimeout(timer);
    if (gaveUp) this.debug('push watch connections not ready after 5 s: polling until they are');
    else await this.establish();
  }

  /**
   * (Re)builds the redirect: a reconnect loses the tracker's tracking state
   * and changes the watcher's client id.
   */
  private async establish(): Promise<void> {
    const { tracker, watcher } = this;
    if (!tracker || !watcher || this.stopped) return;
    const gen = ++this.gen;
    this.active = false;
    this.armed = false;
    this.armEpoch++;
    this.skipNext = false;
    if (tracker.status !== 'ready' || watcher.status !== 'ready') return;
    try {
      if (this.watcherId === '') {
        const id = String(await watcher.client('ID'));
        await watcher.subscribe(TRACKING_CHANNEL);
        this.watcherId = id;
      }
      await tracker.client('TRACKING', 'OFF');
      await tracker.client('TRACKING', 'ON', 'REDIRECT', this.watcherId, 'OPTIN');
      if (gen !== this.gen || this.stopped) return;
      this.active = true;
      // Pushes made while tracking was down woke nobody.
      this.onPush();
    } catch (err) {
      if (gen === this.gen) this.debug(`instant pickup of pushed jobs unavailable, polling instead: ${(err as Error).message}`);
    }
  }

  /**
   * Tracks the queue keys until the next write to one of them. Resolves to
   * true if a queue holds jobs already (pushed since the worker's last
   * dequeue): no invalidation will come for those, the caller takes them now.
   */
  async arm(): Promise<boolean> {
    const t = this.tracker;
    if (!t || !this.active || this.armed) return false;
    const epoch = this.armEpoch;
    try {
      const res = await t.pipeline().call('CLIENT', 'CACHING', 'yes').exists(...this.queues.map(keys.queue)).exec();
      const failed = res?.find(([err]) => err)?.[0];
      if (!res || failed) throw failed ?? new Error('no reply');
      // An invalidation that overtook this reply (it travels on the other
      // connection) already ended this tracking: the caller is woken anyway.
      if (epoch !== this.armEpoch) return Number(res[1]?.[1]) > 0;
      if (Number(res[1]?.[1]) > 0) {
        // The caller dequeues now, and arms again before it sleeps.
        this.skipNext = true;
        return true;
      }
      this.armed = true;
      return false;
    } catch (err) {
      // The connection is being replaced: establish() runs again on 'ready'.
      this.debug(`could not watch the queues: ${(err as Error).message}`);
      return false;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.active = false;
    this.tracker?.disconnect();
    this.watcher?.disconnect();
    this.tracker = this.watcher = undefined;
  }
}

const TRACKING_CHANNEL = '__redis__:invalidate';
