/**
 * Per-channel rate limits of workflow sends (`workflows.sendsPerSecond` of hub.yaml), shared by
 * every worker through Redis. Each send reserves the next free slot of its channel (a virtual
 * schedule: one slot every 1000 / limit ms, the "theoretical arrival time" of GCRA) in one atomic
 * script; a slot in the future makes the step wait in Redis (a due slot of that millisecond, a
 * delayed job: src/workflows/engine-slots.ts) until then, holding its slot, so 100,000 reminders due at once leave at the limit's pace, evenly, and the outbound queue
 * stays free for replies to customers in conversation. Unlisted channels are not limited.
 */
import type { Redis } from 'ioredis';

const RESERVE = `
local now = tonumber(ARGV[1])
local gap = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local t = now
if tat > now then t = tat end
redis.call('SET', KEYS[1], tostring(t + gap), 'PX', math.ceil(t + gap - now) + 1000)
return tostring(t)
`;

export class SendThrottle {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly perSecond: Readonly<Record<string, number>>,
  ) {}

  /** The time a send on `channel` may go (now, or the channel's next free slot, reserved for it). */
  async reserve(channel: string | undefined, now: number): Promise<number> {
    const limit = channel === undefined ? undefined : this.perSecond[channel];
    if (channel === undefined || limit === undefined) return now;
    const at = await this.redis.eval(RESERVE, 1, `${this.prefix}:workflows:throttle:${channel}`, String(now), String(1000 / limit));
    return Number(at);
  }
}
