/**
 * Wires analytics into a test hub the way the composition root does, unless the hub already does
 * it itself (once the lead adds setupAnalytics to hub.ts, with the console's guard): the tests then
 * run against that wiring, authenticating with an admin bearer token, which both the default guard
 * and the console's cookie-or-bearer guard accept.
 */
import type { Hub } from '../../src/hub/hub.js';
import type { Guard } from '../../src/analytics/guard.js';
import { setupAnalytics, type AnalyticsModule } from '../../src/hub/analytics.js';

export function wireAnalytics(hub: Hub, guard?: Guard): Promise<AnalyticsModule> | undefined {
  if ((hub as unknown as { analytics?: AnalyticsModule }).analytics) return undefined;
  return setupAnalytics(hub, guard);
}
