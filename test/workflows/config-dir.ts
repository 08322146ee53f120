import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/temp-dir.js';

/** The defaults most workflow tests run with: UTC, no quiet hours, the preferred channel. */
export const TEST_DEFAULTS = 'timezone: UTC\nquietHours: off\nchannels: [preferred]\n';

/**
 * A config folder for a test hub (`configDir`): the shipped core and message templates, and a
 * `workflows/` folder holding `_defaults.yaml`; the test writes its workflow files into `wf`.
 */
export function workflowConfigDir(prefix: string, defaults = TEST_DEFAULTS): { dir: string; wf: string } {
  const dir = tempDir(prefix);
  const wf = join(dir, 'workflows');
  mkdirSync(join(dir, 'templates'));
  mkdirSync(wf);
  copyFileSync(join('config', 'templates', 'core.yaml'), join(dir, 'templates', 'core.yaml'));
  copyFileSync(join('config', 'templates', 'messages.yaml'), join(dir, 'templates', 'messages.yaml'));
  writeFileSync(join(wf, '_defaults.yaml'), defaults);
  return { dir, wf };
}
