import type { Logger } from 'pino';
import { configPath } from '../config/load.js';
import { loadConfigFile } from '../hub/config-schema.js';
import { errorMessage, isHubError } from '../core/errors.js';
import { Hub, type Role } from '../hub/hub.js';
import { createResponder } from '../hub/bot.js';
import { createLogger } from '../hub/logger.js';

/** Runs one hub process until SIGTERM/SIGINT, then shuts down gracefully. */
export async function runHub(role: Role): Promise<number> {
  let config;
  const file = configPath();
  try {
    config = loadConfigFile(file);
  } catch (err) {
    console.error(`switchboard: ${errorMessage(err)}`);
    return 1;
  }
  let log: Logger;
  try {
    log = createLogger({ level: config.logLevel });
  } catch (err) {
    console.error(`switchboard: ${errorMessage(err)}`);
    return 1;
  }
  let hub: Hub;
  try {
    hub = await Hub.start({ config, role, log, responderFactory: (h) => createResponder(h) });
  } catch (err) {
    log.fatal({ code: isHubError(err) ? err.code : undefined }, `switchboard could not start: ${errorMessage(err)}`);
    return 1;
  }
  if (role !== 'worker') {
    const url = hub.url.replace('127.0.0.1', 'localhost');
    log.info(`switchboard ${role} is up: open ${url}/ to chat (config ${file})`);
  } else {
    log.info('switchboard worker is up');
  }
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log.info(`${sig}: shutting down (finishing in-flight work)`);
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  const timer = setTimeout(() => {
    log.error('shutdown took over 20 s; exiting');
    process.exit(1);
  }, 20_000);
  timer.unref();
  await hub.stop();
  log.info('stopped');
  return 0;
}
