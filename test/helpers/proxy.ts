import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a Redis, for connection faults: cut every
 * connection at once (mid-stream: whatever is in flight is lost), drop the
 * next replies (the command ran on Redis, its reply never arrives), freeze
 * connections (half-open: open, but nothing gets through), or refuse
 * connections for a while (Redis unreachable).
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket; frozen: boolean }>();
  private refusing = false;
  private dropReplies = 0;
  private readonly dropAfter: Buffer[][] = [];
  port = 0;
  /** Connections accepted, cut, and replies dropped, for the summary line. */
  readonly stats = { accepted: 0, cut: 0, repliesDropped: 0, frozen: 0 };

  constructor(
    readonly targetPort: number,
    readonly targetHost = '127.0.0.1',
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<void> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as { port: number }).port;
  }

  private accept(client: Socket): void {
    client.on('error', () => {});
    if (this.refusing) {
      client.destroy();
      return;
    }
    this.stats.accepted++;
    const upstream = createConnection(this.targetPort, this.targetHost);
    upstream.on('error', () => {});
    const pair = { client, upstream, frozen: false };
    this.pairs.add(pair);
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on('close', close);
    upstream.on('close', close);
    let dropNext = false;
    client.on('data', (d) => {
      if (pair.frozen) return;
      const i = this.dropAfter.findIndex((any) => any.some((m) => d.includes(m)));
      if (i >= 0) {
        // The command goes through; its reply will not come back.
        this.dropAfter.splice(i, 1);
        dropNext = true;
      }
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (pair.frozen) return;
      if (dropNext || this.dropReplies > 0) {
        if (!dropNext) this.dropReplies--;
        // The command ran; its reply is lost with the connection.
        this.stats.repliesDropped++;
        this.stats.cut++;
        close();
        return;
      }
      client.write(d);
    });
  }

  /** Destroys every open connection now; returns how many. */
  cutAll(): number {
    const n = this.pairs.size;
    for (const p of [...this.pairs]) {
      p.client.destroy();
      p.upstream.destroy();
      this.pairs.delete(p);
    }
    this.stats.cut += n;
    return n;
  }

  /**
   * Every open connection stops carrying data, both ways, but stays open: as
   * when the peer vanished without a FIN or RST. Connections made after
   * this work. Returns how many were frozen.
   */
  freezeAll(): number {
    let n = 0;
    for (const p of this.pairs) {
      if (!p.frozen) n++;
      p.frozen = true;
    }
    this.stats.frozen += n;
    return n;
  }

  /**
   * The next command whose bytes contain one of `markers` (a script's SHA1 or text)
   * reaches Redis, but the reply to it is dropped with its connection.
   */
  dropReplyTo(...markers: (string | Buffer)[]): void {
    this.dropAfter.push(markers.map((m) => Buffer.from(m)));
  }

  /** The next `n` reply chunks from Redis are dropped, each with its connection. */
  dropNextReplies(n: number): void {
    this.dropReplies += n;
  }

  /** Forgets every pending drop. */
  clearDrops(): void {
    this.dropReplies = 0;
    this.dropAfter.length = 0;
  }

  /** While on, new connections are closed at once and open ones are cut: Redis is unreachable. */
  refuse(on: boolean): void {
    this.refusing = on;
    if (on) this.cutAll();
  }

  get connections(): number {
    return this.pairs.size;
  }

  async stop(): Promise<void> {
    this.refusing = true;
    this.cutAll();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
