/**
 * `GET /api/analytics/<table>` (role admin): kpis, volume, response-times, escalations, proactive,
 * gaps, conversations, each as JSON or, with `?format=csv`, as a CSV download; and
 * `POST /api/analytics/gaps/:id/draft`, which drafts a knowledge entry from a gap cluster into the
 * pending answers (a JSON body: a cross-site form cannot send one). Query: from, to, tz, bucket, channel.
 */
import type { FastifyInstance } from 'fastify';
import type { AnalyticsKpis } from './kpis.js';
import type { Guard } from './guard.js';
import { BadRange, parseRange, type RangeQuery } from './range.js';
import { TABLES, table, type TableName } from './tables.js';
import { toCsv } from './csv.js';

export interface AnalyticsApiDeps {
  kpis: AnalyticsKpis;
  guard: Guard;
  timeZone: string;
  now(): number;
}

const rangeQuery = {
  type: 'object',
  properties: {
    from: { type: 'string', maxLength: 20 },
    to: { type: 'string', maxLength: 20 },
    tz: { type: 'string', maxLength: 64 },
    bucket: { type: 'string', enum: ['day', 'week'] },
    channel: { type: 'string', maxLength: 64 },
    format: { type: 'string', enum: ['json', 'csv'] },
  },
  additionalProperties: false,
} as const;

type Query = RangeQuery & { format?: 'json' | 'csv' };

export function mountAnalyticsApi(app: FastifyInstance, d: AnalyticsApiDeps): void {
  const range = (q: RangeQuery) => parseRange(q, { timeZone: d.timeZone, now: d.now() });

  for (const name of TABLES) {
    app.get<{ Querystring: Query }>(`/analytics/${name}`, { schema: { querystring: rangeQuery } }, async (request, reply) => {
      if (!(await d.guard(request, reply, 'admin'))) return reply;
      try {
        const r = range(request.query);
        const t = await table(name as TableName, d.kpis, r);
        if (request.query.format !== 'csv') return t.json;
        const file = `analytics-${name}-${new Date(r.from).toISOString().slice(0, 10)}.csv`;
        return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${file}"`).send(toCsv(t.columns, t.rows));
      } catch (err) {
        if (err instanceof BadRange) return reply.code(400).send({ error: err.message });
        throw err;
      }
    });
  }

  app.post<{ Params: { id: string }; Body: RangeQuery }>(
    '/analytics/gaps/:id/draft',
    {
      schema: {
        params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9a-f]{12}$' } }, required: ['id'] },
        body: { ...rangeQuery, properties: { from: rangeQuery.properties.from, to: rangeQuery.properties.to, tz: rangeQuery.properties.tz, channel: rangeQuery.properties.channel } },
      },
    },
    async (request, reply) => {
      if (!(await d.guard(request, reply, 'admin'))) return reply;
      try {
        const drafted = await d.kpis.draftFromGap(range(request.body), request.params.id, 'analytics:gaps');
        if (!drafted) return reply.code(404).send({ error: `no knowledge-gap cluster ${request.params.id} in this range` });
        return reply.code(drafted.created ? 201 : 200).send({ created: drafted.created, pendingAnswer: drafted.answer });
      } catch (err) {
        if (err instanceof BadRange) return reply.code(400).send({ error: err.message });
        throw err;
      }
    },
  );
}
