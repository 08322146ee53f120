import type { ChannelName } from '../types.js';

/** FNV-1a, stable across processes and restarts. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export const inboundQueueName = (partition: number): string => `in-${partition}`;
export const outboundQueueName = (channel: ChannelName): string => `out-${channel}`;
/** A desk's own delayed follow-ups (reminders). */
export const DESK_QUEUE = 'desk';
/** One job per (subscriber, conversation event). */
export const EVENTS_QUEUE = 'events';
/** The repeating sweep (lost send jobs, undispatched events), a BullMQ job scheduler. */
export const MAINTENANCE_QUEUE = 'maintenance';

/** BullMQ job id of one subscriber's delivery of one event (`:` is reserved in custom ids). */
export function eventJobId(subscriber: string, eventId: string): string {
  return `${subscriber}~${eventId}`;
}

/** Messages of one sender always land in the same partition, handled one at a time. */
export function partitionOf(channel: ChannelName, platformUserId: string, partitions: number): number {
  return hash32(`${channel}\u0000${platformUserId}`) % partitions;
}

/**
 * BullMQ job id of an inbound message: `channel:platformMessageId` with `:` escaped inside the
 * platform id (BullMQ reserves `:` in custom ids).
 */
export function inboundJobId(channel: ChannelName, platformMessageId: string): string {
  return `${channel}~${encodeURIComponent(platformMessageId)}`;
}

/** BullMQ job id of a desk reminder: once per (desk, conversation, key). */
export function reminderJobId(desk: string, conversationId: string, key: string): string {
  return `${desk}~${conversationId}~${key.replace(/:/g, '~')}`;
}
