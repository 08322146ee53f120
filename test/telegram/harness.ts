import { pino } from 'pino';
import { telegramConfigSchema, type TelegramConfigInput } from '../../src/adapters/telegram/index.js';
import { TelegramAdapter } from '../../src/adapters/telegram/adapter.js';
import type { FakeTelegram } from '../fakes/telegram-bot-api.js';

export const testLog = pino({ level: process.env.TEST_LOG ? 'debug' : 'silent' });

/** A Telegram adapter pointed at the fake Bot API (polling, 1 s long polls unless overridden). */
export function makeAdapter(fake: FakeTelegram, overrides: Partial<TelegramConfigInput> = {}): TelegramAdapter {
  const config = telegramConfigSchema.parse({
    enabled: true,
    token: fake.token,
    apiRoot: fake.apiRoot,
    pollingTimeoutSec: 1,
    ...overrides,
  });
  return new TelegramAdapter(config, testLog);
}

/** Numeric Telegram user ids for the contract suite's string user names. */
export function numericId(name: string): number {
  let h = 7;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) % 1_000_000_000;
  return 1_000_000_000 + h;
}
