import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Telegram } from 'telegraf';
import type { AttachmentContent } from '../../core/adapter.js';
import { HubError, errorMessage } from '../../core/errors.js';
import { isAbort, scrubToken, toHubError } from './api-errors.js';
import { apiSignal } from './polling.js';

/** Content types by the extension of Telegram's `file_path` (its file server mostly answers octet-stream). */
const TYPES: Record<string, string> = {
  jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp',
  oga: 'audio/ogg', ogg: 'audio/ogg', mp3: 'audio/mpeg', m4a: 'audio/mp4',
  mp4: 'video/mp4', mov: 'video/quicktime', webm: 'video/webm', pdf: 'application/pdf',
};

/**
 * The bytes of a file the customer sent, by its file_id: getFile, then a GET of the Bot API file
 * endpoint. That endpoint's URL holds the bot token, so it is built here and never leaves: errors
 * and logs name the step and the HTTP status only. The cloud Bot API refuses files over 20 MB
 * (PLATFORM_REFUSED with that reason); a self-hosted Bot API server (`apiRoot`) lifts the limit.
 */
export async function fetchTelegramFile(
  telegram: Telegram,
  cfg: { token: string; apiRoot: string },
  fileId: string,
  signal: AbortSignal,
): Promise<AttachmentContent> {
  let file: { file_path?: string | undefined; file_size?: number | undefined };
  try {
    file = await telegram.callApi('getFile', { file_id: fileId }, { signal: apiSignal(signal) });
  } catch (err) {
    if (isAbort(err)) throw new HubError('NETWORK', 'Telegram getFile: aborted', { retry: 'retry' });
    const e = toHubError(err, cfg.token, 'getFile');
    // A file_id Telegram does not know (expired, or from another bot) is a 400 "wrong file_id".
    if (e.code === 'PLATFORM_REFUSED' && /file_id|file id/i.test(e.message)) throw new HubError('NOT_FOUND', e.message, { retry: 'final' });
    throw e;
  }
  if (!file.file_path) throw new HubError('NOT_FOUND', 'Telegram getFile: the file has no file_path (no longer available)', { retry: 'final' });
  const url = new URL(`./file/bot${cfg.token}/${file.file_path}`, cfg.apiRoot.endsWith('/') ? cfg.apiRoot : `${cfg.apiRoot}/`);
  let res: Response;
  try {
    res = await fetch(url, { signal });
  } catch (err) {
    throw new HubError('NETWORK', `Telegram file download: ${isAbort(err) ? 'aborted' : scrubToken(errorMessage(err), cfg.token)}`, { retry: 'retry' });
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel().catch(() => undefined);
    const code = res.status === 404 ? 'NOT_FOUND' : res.status >= 500 ? 'NETWORK' : 'PLATFORM_REFUSED';
    throw new HubError(code, `Telegram file download answered HTTP ${res.status}`, { retry: code === 'NETWORK' ? 'retry' : 'final' });
  }
  const name = file.file_path.split('/').pop() ?? 'file';
  const upstream = res.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
  const byExt = TYPES[name.split('.').pop()?.toLowerCase() ?? ''];
  const length = Number(res.headers.get('content-length') ?? '');
  return {
    body: Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>),
    ...(upstream && upstream !== 'application/octet-stream' ? { mimeType: upstream } : byExt ? { mimeType: byExt } : {}),
    ...(Number.isFinite(length) && length > 0 ? { size: length } : {}),
    name,
  };
}
