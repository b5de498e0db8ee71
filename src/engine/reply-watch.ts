import type { Redis } from 'ioredis';

/**
 * Notices a connection that stopped answering without closing: a half-open
 * TCP connection (the peer vanished behind a NAT or firewall, a VM was
 * migrated, a link went down). The kernel gives up on it only after minutes
 * when writes are pending, and never when none are, so a worker would wait
 * that long on a reply. Each tick sends a PING; one still unanswered
 * `limitMs` later makes ioredis drop the socket and reconnect, and it
 * resends the commands left unanswered (every script is safe to resend).
 */
export class ReplyWatch {
  private pingSentAt: number | undefined;
  private lastTick = Date.now();

  constructor(
    private readonly conn: Redis,
    private readonly limitMs: number,
    private readonly onStall: (silentMs: number) => void,
  ) {}

  tick(tickMs: number): void {
    const now = Date.now();
    // A late tick means this process's event loop was blocked (a CPU-bound
    // task): replies may be waiting unread, so the silence proves nothing.
    const late = now - this.lastTick > 2 * tickMs;
    this.lastTick = now;
    if (late || this.conn.status !== 'ready') {
      this.pingSentAt = undefined;
      return;
    }
    if (this.pingSentAt === undefined) {
      const sentAt = now;
      this.pingSentAt = sentAt;
      const answered = () => {
        if (this.pingSentAt === sentAt) this.pingSentAt = undefined;
      };
      this.conn.ping().then(answered, answered);
      return;
    }
    if (now - this.pingSentAt > this.limitMs) {
      this.onStall(now - this.pingSentAt);
      this.pingSentAt = undefined;
      this.conn.disconnect(true);
    }
  }
}
