import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { WebAPIPlatformError } from '@slack/web-api';
import type { Logger } from 'pino';
import type { AttachmentFetcher } from '../../core/adapter.js';
import { HubError } from '../../core/errors.js';
import { toHubError, type SlackApi } from './api.js';
import { FILE_ID } from './mapper.js';

/**
 * Fetches a customer's Slack file for an agent who opened its signed hub link: `files.info` (scope
 * `files:read`) for the private download URL, then the file with the bot token. The token is only
 * ever sent to Slack's file host (or to the configured API's own host: a proxy, the fake in tests),
 * so a link never carries it and an agent who cannot see the DM can still open the file.
 */
export function slackFileFetcher(api: SlackApi, cfg: { botToken: string; apiUrl: string }, log: Logger): AttachmentFetcher {
  const trusted = new Set(['https://files.slack.com', new URL(cfg.apiUrl).origin]);
  return async (handle, signal) => {
    if (!FILE_ID.test(handle)) throw new HubError('NOT_FOUND', 'not a Slack file', { retry: 'final' });
    let file: { name?: string; mimetype?: string; size?: number; url_private_download?: string; url_private?: string } | undefined;
    try {
      const r: Record<string, unknown> = { ...(await api.client.apiCall('files.info', { file: handle })) };
      file = r.file as typeof file;
    } catch (err) {
      if (err instanceof WebAPIPlatformError && ['file_not_found', 'file_deleted'].includes(err.data.error)) {
        throw new HubError('NOT_FOUND', `the Slack file is gone (${err.data.error})`, { retry: 'final' });
      }
      throw toHubError('files.info', err, log);
    }
    const url = file?.url_private_download ?? file?.url_private;
    if (!url) throw new HubError('NOT_FOUND', 'Slack gives no download for this file', { retry: 'final' });
    if (!trusted.has(new URL(url).origin)) {
      throw new HubError('PLATFORM_REFUSED', 'the Slack file is on an unexpected host; not fetched', { retry: 'final' });
    }
    const res = await fetch(url, { headers: { authorization: `Bearer ${cfg.botToken}` }, signal }).catch((err: unknown) => {
      throw new HubError('NETWORK', 'the Slack file could not be fetched', { retry: 'retry', cause: err });
    });
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => undefined);
      throw new HubError(res.status === 404 ? 'NOT_FOUND' : 'PLATFORM_REFUSED', `Slack answered ${res.status} for the file`, { retry: 'final' });
    }
    return {
      body: Readable.fromWeb(res.body as WebReadableStream<Uint8Array>),
      ...(file?.mimetype ? { mimeType: file.mimetype } : {}),
      ...(file?.size !== undefined ? { size: file.size } : {}),
      ...(file?.name ? { name: file.name } : {}),
    };
  };
}
