import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { slackCustomers } from '../../src/adapters/slack/index.js';
import { slackConfigSchema } from '../../src/adapters/slack/config.js';
import { adapterContract, RecordingContext, type Delivery } from '../contract/adapter-contract.js';
import { startFakeSlack } from '../fakes/slack-api.js';
import { CASES, SECRET, eventBody, postSlack, slackTs } from './helpers.js';

interface PostedDelivery extends Delivery {
  /** HTTP statuses of Slack's deliveries of this event so far. */
  statuses: number[];
}

/** Slack mrkdwn entities back to text (what the customer sees). */
function unescape(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** A user's DM channel with the app. */
const dmOf = (userId: string) => `D${userId.toUpperCase().replace(/[^A-Z0-9]/g, '')}`;

adapterContract<PostedDelivery>('slack customers (DMs, HTTP Events API, fake Slack)', async () => {
  const fake = await startFakeSlack();
  const cfg = slackConfigSchema.parse({
    enabled: true,
    botToken: 'xoxb-test',
    signingSecret: SECRET,
    apiUrl: fake.apiUrl,
    caseChannel: CASES,
    customers: { directMessages: true, lookupProfiles: false },
  });
  const adapter = await slackCustomers.create(cfg, { log: pino({ level: process.env.TEST_LOG ? 'debug' : 'silent' }), dataDir: '/tmp' });
  const ctx = new RecordingContext();
  await adapter.mount(ctx);
  const server = createServer((req, res) => void ctx.router.handle(req, res).catch(() => undefined));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${cfg.eventsPath}`;
  /** Slack's side of an Events API call: POST the signed event, note the answer (it retries on non-2xx). */
  const post = (body: string, statuses: number[], retryNum?: number): void => {
    void postSlack(url, body, 'application/json', retryNum !== undefined ? { retryNum } : {})
      .then((r) => statuses.push(r.status))
      .catch(() => statuses.push(0));
  };
  return {
    adapter,
    ctx,
    deliverText: async (userId, text) => {
      const event = { type: 'message', channel: dmOf(userId), channel_type: 'im', user: `U${userId}`, team: 'TCUST', text, ts: slackTs() };
      const body = eventBody(event);
      const statuses: number[] = [];
      let retries = 0;
      post(body, statuses);
      return { statuses, redeliver: async () => post(body, statuses, ++retries) };
    },
    sentTexts: async (chatId) => fake.ok('chat.postMessage').filter((c) => c.body.channel === chatId).map((c) => unescape(String(c.body.text))),
    failNextSend: {
      rateLimited: async () => {
        fake.failNext('chat.postMessage', { status: 429, retryAfter: 7 });
        return { retryAfterMs: 7000 };
      },
      unreachable: async () => fake.failNext('chat.postMessage', { error: 'channel_not_found' }),
      network: async () => fake.failNext('chat.postMessage', { network: true }),
    },
    acknowledged: async (d) => d.statuses.some((s) => s >= 200 && s < 300),
    // Slack shows the app its own posts in the DM (with bot_id).
    deliverOwnMessage: async (userId, text) =>
      post(eventBody({ type: 'message', channel: dmOf(userId), channel_type: 'im', user: 'UBOT', bot_id: 'BBOT', text, ts: slackTs() }), []),
    close: async () => {
      await adapter.stop();
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await ctx.close();
      await fake.close();
    },
  };
});
