/**
 * The contracts between the email channel's parts: parse.ts (a raw mail -> ParsedMail, with the
 * loop check), imap.ts (the mailbox -> raw mails, with a cursor), smtp.ts (OutgoingMail -> SMTP),
 * adapter.ts (ties them to the hub).
 */

/** A mail as the adapter sees it (parse.ts). Addresses are lower-cased; ids keep their angle brackets. */
export interface ParsedMail {
  /** `<id@host>`; absent when the mail has none (the adapter then derives one from the bytes). */
  messageId?: string;
  /** The sender (From; Sender / Reply-To are not used for identity). Absent: no usable From. */
  from?: { address: string; name?: string };
  /** Reply-To when it differs from From (answers go there). */
  replyTo?: string;
  to: string[];
  cc: string[];
  /** Delivered-To headers (the envelope recipients, e.g. a Bcc or a plus address the client hid). */
  deliveredTo: string[];
  /** Decoded (RFC 2047), trimmed; '' when none. */
  subject: string;
  /** Epoch ms of the Date header, when valid. */
  date?: number;
  /** What the customer wrote now: the text part (or the HTML turned into readable text), without quoted history or signature. */
  text: string;
  /** The whole text (quotes and signature included), for agents. */
  fullText: string;
  inReplyTo?: string;
  /** References, oldest first. */
  references: string[];
  /** The `[#token]` in the subject, when any (our thread token, for clients that drop the headers). */
  caseToken?: string;
  attachments: MailAttachment[];
  /** Why this mail must not be answered (loops.ts): an auto-reply, a bounce, a list, our own mail…; undefined: answer it. */
  skipReason?: string;
  /** Problems met while parsing (an unknown charset decoded as a fallback, a missing From…), for the log. */
  warnings: string[];
}

export interface MailAttachment {
  name: string;
  mimeType: string;
  size: number;
  /** false when over `maxAttachmentBytes` (listed, not kept). */
  kept: boolean;
}

export interface ParseOptions {
  maxAttachmentBytes: number;
  /** Our own addresses (from.address): mail from them is never answered. */
  ownAddresses: readonly string[];
}

/** What the IMAP receiver hands over: one raw message and where it is. */
export interface RawMail {
  uid: number;
  /** UIDVALIDITY of the mailbox, as a decimal string (imapflow gives a BigInt). */
  uidValidity: string;
  source: Buffer;
}

/**
 * Called for each new mail, in UID order. Resolve only once the mail is durably queued (the receiver
 * then marks it processed and moves the cursor past it); reject to leave it for the next pass.
 */
export type MailSink = (mail: RawMail) => Promise<void>;

/** A mail to send (smtp.ts). */
export interface OutgoingMail {
  to: string;
  /** The sender name shown (from.name in the customer's locale). */
  fromName: string;
  subject: string;
  text: string;
  html?: string;
  /** `<id@host>`: set by the adapter so a reply's In-Reply-To finds the thread. */
  messageId: string;
  inReplyTo?: string;
  references?: string[];
  /** Bot replies: `Auto-Submitted: auto-replied` (RFC 3834). */
  autoReplied: boolean;
  /** Proactive mail: a `List-Unsubscribe` header value, e.g. `<mailto:support@example.com?subject=unsubscribe>`. */
  listUnsubscribe?: string;
}
