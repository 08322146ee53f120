/**
 * The hub's one logger factory (the CLI and `Hub` without a given logger both use it): readable
 * lines in a terminal, JSON lines otherwise, and the same redaction of secrets either way.
 */
import { pino, type DestinationStream, type Level, type LevelWithSilent, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { HubError } from '../core/errors.js';

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * Keys whose values never reach a log line: every secret hub.yaml holds (`server.adminToken`,
 * `llm.apiKey`, the channels' tokens and secrets) and the usual names of credentials. Each is
 * redacted at the top of a log object and one level down (pino's paths do not recurse).
 */
export const SECRET_KEYS = [
  'token',
  'apiKey',
  'secret',
  'password',
  'botToken',
  'appToken',
  'adminToken',
  'puppetToken',
  'signingSecret',
  'secretToken',
  'cookieSecret',
  'authorization',
  'cookie',
] as const;

export const REDACT_PATHS: string[] = SECRET_KEYS.flatMap((k) => [k, `*.${k}`]);

/**
 * The format to log in: `LOG_FORMAT` (json | pretty, any case) when set, else readable lines when
 * stdout is a terminal and JSON otherwise. Any other value is refused, naming the variable.
 */
export function logFormat(env: string | undefined, isTTY: boolean): LogFormat {
  const v = env?.trim().toLowerCase();
  if (!v) return isTTY ? 'pretty' : 'json';
  if ((LOG_FORMATS as readonly string[]).includes(v)) return v as LogFormat;
  throw new HubError(
    'CONFIG_INVALID',
    `LOG_FORMAT must be one of ${LOG_FORMATS.join(', ')} (got "${env}"); unset it to get readable lines in a terminal and JSON otherwise`,
    { context: { field: 'LOG_FORMAT', value: env } },
  );
}

export interface LoggerOptions {
  level: LevelWithSilent | Level;
  /** Default: `logFormat(process.env.LOG_FORMAT, process.stdout.isTTY)`. */
  format?: LogFormat;
  /** Where lines go (default stdout). */
  destination?: DestinationStream;
}

/** A pino logger with the hub's redaction, in the chosen format. */
export function createLogger(opts: LoggerOptions): Logger {
  const format = opts.format ?? logFormat(process.env.LOG_FORMAT, process.stdout.isTTY === true);
  const options = { level: opts.level, redact: REDACT_PATHS };
  if (format === 'json') return opts.destination ? pino(options, opts.destination) : pino(options);
  // In-process and synchronous: a terminal's volume is small, and nothing is lost on process.exit.
  const stream = pretty({
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
    ...(opts.destination ? { destination: opts.destination } : {}),
  });
  return pino(options, stream);
}
