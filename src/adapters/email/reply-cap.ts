/**
 * At most `perHour` answered mails per sender in any hour (0: no cap): a last guard against a mail
 * loop the header checks missed (two robots answering each other). Kept in the memory of the one
 * gateway that holds the mailbox (the channel's lease), so a take-over starts the count afresh.
 */
export class ReplyCap {
  private readonly seen = new Map<string, number[]>();

  constructor(private readonly perHour: number) {}

  /** Counts one answered mail from `sender` at `now`; false when the cap is reached (not counted). */
  take(sender: string, now: number): boolean {
    if (this.perHour === 0) return true;
    const since = now - 3600_000;
    const times = (this.seen.get(sender) ?? []).filter((t) => t > since);
    if (times.length >= this.perHour) {
      this.seen.set(sender, times);
      return false;
    }
    times.push(now);
    this.seen.set(sender, times);
    if (this.seen.size > 10_000) this.prune(since);
    return true;
  }

  private prune(since: number): void {
    for (const [k, v] of this.seen) if (!v.some((t) => t > since)) this.seen.delete(k);
  }
}
