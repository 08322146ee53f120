import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/** A Redis lease: SET NX PX; renew and release only with the holder's token. */
export class Lease {
  readonly token = randomUUID();
  constructor(
    private readonly redis: Redis,
    readonly key: string,
    readonly ttlMs: number,
  ) {}

  async acquire(): Promise<boolean> {
    return (await this.redis.set(this.key, this.token, 'PX', this.ttlMs, 'NX')) === 'OK';
  }

  async renew(): Promise<boolean> {
    return Number(await this.redis.eval(RENEW, 1, this.key, this.token, String(this.ttlMs))) === 1;
  }

  async release(): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.key, this.token);
  }
}

export interface LeaseHandlers {
  onAcquire(): Promise<void>;
  onLose(): Promise<void>;
  onError?(err: unknown): void;
}

/**
 * Keeps trying to hold `lease`; runs onAcquire when it gets it and onLose when a renewal fails (the
 * lease expired, e.g. after a pause longer than the TTL). Checks every ttl/3.
 */
export class LeaseKeeper {
  private timer: NodeJS.Timeout | undefined;
  private held = false;
  private busy: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly lease: Lease,
    private readonly handlers: LeaseHandlers,
  ) {}

  get isHeld(): boolean {
    return this.held;
  }

  start(): void {
    const tick = () => {
      this.busy = this.busy.then(() => this.step()).catch((err) => this.handlers.onError?.(err));
    };
    tick();
    this.timer = setInterval(tick, Math.max(50, Math.floor(this.lease.ttlMs / 3)));
  }

  private async step(): Promise<void> {
    if (this.stopped) return;
    if (this.held) {
      if (!(await this.lease.renew())) {
        this.held = false;
        await this.handlers.onLose();
      }
      return;
    }
    if (await this.lease.acquire()) {
      this.held = true;
      try {
        await this.handlers.onAcquire();
      } catch (err) {
        // Could not start the connection: give the lease back so another gateway can try.
        this.held = false;
        await this.lease.release();
        throw err;
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.busy;
    if (this.held) {
      this.held = false;
      await this.handlers.onLose();
      await this.lease.release();
    }
  }
}
