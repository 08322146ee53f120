import { z } from 'zod';

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'use HH:MM (24-hour), e.g. 09:00');

function validTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const businessHoursSchema = z
  .object({
    timezone: z.string().refine(validTimezone, 'not an IANA time zone (e.g. Asia/Shanghai, Europe/Berlin)'),
    /** ISO weekdays: 1 = Monday ... 7 = Sunday. */
    days: z.array(z.number().int().min(1).max(7)).min(1).default([1, 2, 3, 4, 5]),
    open: hhmm.default('09:00'),
    close: hhmm.default('18:00'),
  })
  .strict()
  .refine((b) => b.close > b.open, { message: 'close must be later than open (overnight hours are not supported)', path: ['close'] });
export type BusinessHours = z.infer<typeof businessHoursSchema>;

const channelId = z.string().regex(/^[CG][A-Z0-9]{2,}$/, 'a Slack channel id (C… or G…), e.g. C0123456789');

/**
 * `channels.slack.customers`: Slack as a customer channel too (direct messages to the app, Slack
 * Connect channels shared with customers), on the desk's own Slack app and transport.
 */
export const slackCustomersSchema = z
  .object({
    directMessages: z.boolean().default(false).describe('Direct messages to the app are customer messages (one conversation per person).'),
    channels: z
      .array(channelId)
      .default([])
      .describe('Shared (Slack Connect) customer channels by id; each top-level message starts a conversation answered in its thread.'),
    ownTeamIds: z
      .array(z.string().regex(/^[TE][A-Z0-9]{2,}$/, 'a Slack team id (T…) or enterprise id (E…)'))
      .default([])
      .describe("Our own workspace(s): their members are never customers in a shared channel; empty = the workspace the event was delivered to."),
    lookupProfiles: z.boolean().default(true).describe("Ask users.info (name, email) and team.info (the customer's company) when the scopes allow."),
  })
  .strict();
export type SlackCustomersConfig = z.infer<typeof slackCustomersSchema>;

/** `channels.slack` in hub.yaml. */
export const slackConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    mode: z.enum(['http', 'socket']).default('http').describe('http: Events API on the hub; socket: Socket Mode (app-level token).'),
    botToken: z.string().min(1).describe('xoxb-… bot token (use ${SLACK_BOT_TOKEN}).'),
    signingSecret: z.string().min(1).optional().describe('Signing secret; required in http mode.'),
    appToken: z.string().min(1).optional().describe('xapp-… app-level token; required in socket mode.'),
    apiUrl: z
      .string()
      .url()
      .default('https://slack.com/api/')
      .transform((u) => (u.endsWith('/') ? u : `${u}/`))
      .describe('Web API base URL (tests point it at a fake).'),
    caseChannel: z.string().min(1).describe('Channel id (C…) where cases are posted; the bot must be a member.'),
    onCallGroup: z.string().min(1).optional().describe('User group id (S…) mentioned when a case is unclaimed.'),
    agentName: z.string().min(1).default('{name}').describe('Name customers see for agent replies; {name} = the agent\'s Slack name.'),
    notePrefix: z.string().min(1).default('note:').describe('Thread replies starting with this stay internal.'),
    unclaimedReminderMinutes: z.number().min(0).default(10).describe('Remind the on-call group after this long unclaimed; 0 = never.'),
    businessHours: businessHoursSchema.optional(),
    eventsPath: z.string().startsWith('/').default('/slack/events').describe('Events API and interactivity request URL path.'),
    attachmentLinkMinutes: z
      .number()
      .min(1)
      .max(7 * 24 * 60)
      .default(24 * 60)
      .describe("How long a link to a customer's attachment in a case thread works (signed hub URL; needs server.publicUrl)."),
    learnedFile: z
      .string()
      .regex(/^[\w.-]+\.ya?ml$/, 'a file name in the knowledge folder, e.g. learned.yaml')
      .default('learned.yaml'),
    deliveredReaction: z.string().min(1).default('white_check_mark'),
    failedReaction: z.string().min(1).default('x'),
    customers: slackCustomersSchema.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.mode === 'http' && !c.signingSecret) {
      ctx.addIssue({
        code: 'custom',
        path: ['signingSecret'],
        message: 'required in http mode (Slack app settings > Basic Information > Signing Secret)',
      });
    }
    if (c.mode === 'socket' && !c.appToken) {
      ctx.addIssue({
        code: 'custom',
        path: ['appToken'],
        message: 'required in socket mode (an app-level token xapp-… with the connections:write scope)',
      });
    }
    const shared = c.customers?.channels ?? [];
    if (shared.includes(c.caseChannel)) {
      ctx.addIssue({
        code: 'custom',
        path: ['customers', 'channels', shared.indexOf(c.caseChannel)],
        message: 'the case channel cannot be a customer channel too (customers would see the cases, and cases would become conversations)',
      });
    }
    const dup = shared.find((id, i) => shared.indexOf(id) !== i);
    if (dup) ctx.addIssue({ code: 'custom', path: ['customers', 'channels', shared.lastIndexOf(dup)], message: `${dup} is listed twice` });
    if (c.mode === 'socket' && c.appToken && !c.appToken.startsWith('xapp-')) {
      ctx.addIssue({ code: 'custom', path: ['appToken'], message: 'must be an app-level token starting with xapp-' });
    }
  });

export type SlackConfig = z.infer<typeof slackConfigSchema>;
export type SlackConfigInput = z.input<typeof slackConfigSchema>;
