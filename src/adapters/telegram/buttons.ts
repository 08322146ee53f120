import { createHash } from 'node:crypto';
import type { Button } from '../../core/types.js';

/** Telegram's limit on `callback_data`, in bytes. */
export const CALLBACK_DATA_MAX_BYTES = 64;
const HASHED = '#h:';

export interface InlineKeyboardButton {
  text: string;
  callback_data: string;
}
export interface InlineKeyboardMarkup {
  inline_keyboard: InlineKeyboardButton[][];
}

/**
 * The `callback_data` for a button value: the value itself when it fits in 64 bytes, else `#h:` and
 * a hash of it. A hashed press is turned back into the value from the customer's history (the stored
 * outbound message carries its buttons), see `resolveHashedValue`.
 */
export function callbackDataFor(value: string): string {
  if (Buffer.byteLength(value, 'utf8') <= CALLBACK_DATA_MAX_BYTES && !value.startsWith(HASHED)) return value;
  return HASHED + createHash('sha256').update(value, 'utf8').digest('base64url').slice(0, 32);
}

export function isHashedCallbackData(data: string): boolean {
  return data.startsWith(HASHED);
}

/** The value behind a hashed `callback_data`, looked up in buttons sent before (newest first wins). */
export function resolveHashedValue(data: string, sentButtons: readonly Button[]): string | undefined {
  for (let i = sentButtons.length - 1; i >= 0; i--) {
    const b = sentButtons[i];
    if (b && callbackDataFor(b.value) === data) return b.value;
  }
  return undefined;
}

/** Buttons as an inline keyboard: short labels share a row (up to 3), longer ones get their own. */
export function inlineKeyboard(buttons: readonly Button[]): InlineKeyboardMarkup {
  const rows: InlineKeyboardButton[][] = [];
  let row: InlineKeyboardButton[] = [];
  let rowChars = 0;
  for (const b of buttons) {
    const text = b.label.trim() || b.value;
    const fits = row.length < 3 && rowChars + text.length <= 20;
    if (!fits && row.length > 0) {
      rows.push(row);
      row = [];
      rowChars = 0;
    }
    row.push({ text, callback_data: callbackDataFor(b.value) });
    rowChars += text.length;
  }
  if (row.length > 0) rows.push(row);
  return { inline_keyboard: rows };
}
