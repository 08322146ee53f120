/** The events API as the workflow tests call it: POST /api/events (202 expected) and the event's status. */
import assert from 'node:assert/strict';
import { until } from '../helpers/hub.js';

export type StepView = { id: string; action?: string; status: string; dueAt?: string | null; error?: string; result?: Record<string, unknown> };
export type EventStatus = { id: string; runs: { id: string; workflow: string; status: string; error?: string; steps: StepView[] }[] };

/** `url()`: the hub's base URL (read per call: the hub starts in `before`). */
export function eventsClient(url: () => string, token: string) {
  const post = async (body: unknown): Promise<{ id: string }> => {
    const res = await fetch(`${url()}/api/events`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(res.status, 202);
    return (await res.json()) as { id: string };
  };
  const status = async (id: string): Promise<EventStatus> => (await (await fetch(`${url()}/api/events/${id}`, { headers: { authorization: `Bearer ${token}` } })).json()) as EventStatus;
  const runEnds = (id: string, s: string): Promise<EventStatus> => until(async () => ((await status(id)).runs[0]?.status === s ? status(id) : undefined), 10_000, `run of ${id} ${s}`);
  return { post, status, runEnds };
}
