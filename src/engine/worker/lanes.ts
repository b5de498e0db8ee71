/**
 * Lanes, for concurrency > 1. The slots are split into lanes; each lane's
 * ends go in script calls of their own (each carrying that lane's refill),
 * and each reply is handled in a macrotask of its own. Without them, the
 * ends of one tick went out together, Redis read the calls together and
 * answered them together, and the jobs of one reply all ended in the same
 * tick again: work clumped into one or two bulks that ping-ponged between
 * the worker and Redis, each side idle while the other worked. Two lanes
 * keep two bulks out of phase, so that Redis runs one lane's call while the
 * jobs of the other run here. One round trip per job stays the rule.
 */
export const LANES = 2;

/** How many lanes a worker of this concurrency uses. */
export function laneCount(concurrency: number): number {
  return Math.max(1, Math.min(LANES, concurrency));
}

/** Jobs running or reserved per lane, to put new ones where fewest are. */
export class LaneLoad {
  private readonly load: number[];
  constructor(readonly count: number) {
    this.load = new Array<number>(count).fill(0);
  }
  add(lane: number, n: number): void {
    this.load[lane] = (this.load[lane] ?? 0) + n;
  }
  /** The least loaded lane. */
  lightest(): number {
    let best = 0;
    for (let i = 1; i < this.count; i++) if (this.load[i]! < this.load[best]!) best = i;
    return best;
  }
}
