/** The `analytics:` section of hub.yaml: the calendar of the KPIs, the knowledge-gap threshold, the daily Slack summary. */
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function validCron(cron: string): boolean {
  try {
    CronExpressionParser.parse(cron, { strict: false });
    return true;
  } catch {
    return false;
  }
}

const dailySummarySchema = z
  .object({
    slackChannel: z
      .string()
      .regex(/^[CG][A-Z0-9]{2,}$/, 'a Slack channel id (C… or G…), e.g. C0123456789')
      .describe('Channel id the summary is posted to (the desk\'s bot must be a member); needs channels.slack.'),
    cron: z
      .string()
      .refine(validCron, 'not a cron expression (minute hour day month weekday), e.g. "0 9 * * *"')
      .default('0 9 * * *').describe('When to post (cron, in analytics.timezone); the summary covers the previous day.'),
  })
  .strict();

export const analyticsConfigSchema = z
  .object({
    timezone: z
      .string()
      .refine(validTimeZone, 'not an IANA time zone (e.g. Asia/Shanghai, UTC)')
      .default('UTC')
      .describe('Calendar of the day and week buckets (the dashboard asks for the browser\'s own) and of the daily summary.'),
    lowConfidence: z.number().min(0).max(1).default(0.5).describe('A bot answer below this confidence counts as a knowledge gap.'),
    idleMinutes: z.number().int().min(1).max(1440).default(30).describe('A case no person has closes after this much customer silence.'),
    feedSeconds: z
      .number()
      .min(1)
      .max(3600)
      .default(15)
      .describe('How often the read models catch up with the events (they trail by about this much); longer merges more events into one rebuild per conversation.'),
    dailySummary: dailySummarySchema.optional().describe('A daily summary in Slack (key numbers, change against the day before, top knowledge gaps).'),
  })
  .strict()
  .describe('Service analytics: read models, KPIs, the dashboard.');

export type AnalyticsConfig = z.infer<typeof analyticsConfigSchema>;
