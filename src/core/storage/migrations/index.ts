import type { Kysely } from 'kysely';
import type { Dialect } from './001_core.js';
import * as m001 from './001_core.js';
import * as m002 from './002_seams.js';
import * as m003 from './003_proactive_sends.js';
import * as knowledge001 from './knowledge_001_pending_answers.js';
import * as webhooks001 from './webhooks_001_deliveries.js';
import * as webhooks002 from './webhooks_002_settled.js';
import * as workflows001 from './workflows_001_runs.js';
import * as analytics001 from './analytics_001_read_models.js';
import * as workflows002 from './workflows_002_schedules.js';
import * as workflows003 from './workflows_003_due.js';
import * as identity001 from './identity_001_links.js';
import * as identity002 from './identity_002_pii.js';

export type { Dialect };

export interface ModuleMigration {
  up(db: Kysely<unknown>, dialect: Dialect): Promise<void>;
  down?(db: Kysely<unknown>): Promise<void>;
}

/**
 * A module's migrations (its own tables), applied in name order. Modules contribute a set through
 * the composition root; the core's own set is below. Names are stored as `<module>:<name>` (the
 * core's without a prefix, as they were first applied).
 */
export interface MigrationSet {
  module: string;
  migrations: Readonly<Record<string, ModuleMigration>>;
}

export const coreMigrations: MigrationSet = {
  module: 'core',
  migrations: { '001_core': m001, '002_seams': m002, '003_proactive_sends': m003 },
};

/**
 * Sets whose tables back a repository of `Storage` itself (so every process that opens storage,
 * the CLI included, has them), registered like a module's: stored as `<module>:<name>`.
 */
export const storageMigrations: readonly MigrationSet[] = [
  { module: 'knowledge', migrations: { '001_pending_answers': knowledge001 } },
  { module: 'webhooks', migrations: { '001_deliveries': webhooks001, '002_settled': webhooks002 } },
  { module: 'workflows', migrations: { '001_runs': workflows001, '002_schedules': workflows002, '003_due': workflows003 } },
  { module: 'analytics', migrations: { '001_read_models': analytics001 } },
  { module: 'identity', migrations: { '001_links': identity001, '002_pii': identity002 } },
];
