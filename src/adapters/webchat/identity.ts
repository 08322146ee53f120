/**
 * The web chat's part of identity linking (docs/identity.md): a link token from the page's
 * `sb_link` parameter becomes the command `link <token>`; a signed visitor (the site's user id and
 * its HMAC-SHA256 under `identitySecret`, as Intercom's and Chatwoot's identity verification do)
 * becomes the command `identify` carrying the verified id in `extra.signedUserId`. Only this file
 * sets that field, and only after the check: the core's turn handler trusts it on this channel only.
 * A missing or wrong hash leaves the visitor anonymous and is logged.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { InboundMessage } from '../../core/types.js';
import { CHANNEL, type IdentifyFrame, type LinkFrame, type VisitorSession } from './mapper.js';

/** true when `userHash` is the hex HMAC-SHA256 of `userId` under `secret` (constant-time compare). */
export function validUserHash(secret: string, userId: string, userHash: string | undefined): boolean {
  if (userHash === undefined || !/^[0-9a-fA-F]{64}$/.test(userHash)) return false;
  const expected = createHmac('sha256', secret).update(userId, 'utf8').digest();
  return timingSafeEqual(expected, Buffer.from(userHash, 'hex'));
}

function base(session: VisitorSession, platformMessageId: string, now: number) {
  return {
    channel: CHANNEL,
    platformMessageId,
    platformUserId: session.visitorId,
    ...(session.locale ? { locale: session.locale } : {}),
    ref: { channel: CHANNEL, chatId: session.visitorId },
    attachments: [],
    receivedAt: now,
  };
}

const short = (s: string) => createHash('sha256').update(s).digest('base64url').slice(0, 16);

/** The link command of a `link` frame; the same token from the same visitor is one message (dedupe). */
export function linkInbound(frame: LinkFrame, session: VisitorSession, now: number): InboundMessage {
  return { ...base(session, `${session.visitorId}:link-${short(frame.token)}`, now), kind: 'command', text: '', command: { name: 'link', payload: frame.token } };
}

/** The sign-in of a verified visitor: once per (visitor, user id); never answered by the bot. */
export function identifyInbound(frame: IdentifyFrame, session: VisitorSession, now: number): InboundMessage {
  return {
    ...base(session, `${session.visitorId}:identify-${short(frame.userId)}`, now),
    kind: 'command',
    text: '',
    command: { name: 'identify' },
    noReply: 'signed visitor sign-in',
    extra: { signedUserId: frame.userId },
  };
}
