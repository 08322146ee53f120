/**
 * Conversation-event triggers (issue #15) on a real hub, real Redis and both databases: a workflow
 * with `trigger: { conversation: resolved }` that thanks the customer starts exactly one run when an
 * agent resolves the customer's conversation, and the customer gets one thank-you; the same core
 * event delivered again to the `workflows` subscriber starts no second run and sends nothing more.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Responder } from '../../src/core/responder.js';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { WORKFLOWS_SUBSCRIBER } from '../../src/workflows/triggers.js';
import { DIALECTS } from '../helpers/env.js';
import { workflowConfigDir } from './config-dir.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';

function configDir(): string {
  const { dir, wf } = workflowConfigDir('sb-wf-triggers-');
  writeFileSync(
    join(wf, 'thank-you.yaml'),
    ['kind: reminder', 'trigger:', '  conversation: resolved', 'steps:', '  - id: thanks', '    send:', '      text:', '        en: "Thanks for talking to us! (agent {{agentId}})"', ''].join('\n'),
  );
  return dir;
}

const echo: Responder = { respond: async (turn) => ({ kind: 'answer', text: `echo: ${turn.text}` }) };

for (const dialect of DIALECTS) {
  describe(`conversation-event triggers (${dialect})`, () => {
    let t: TestHub;
    const a = new LoopbackAdapter({ channel: 'alpha' });
    const texts = (user: string) => a.sent.filter((m) => m.ref.chatId === user).map((m) => m.text ?? '');

    before(async () => {
      t = await startTestHub({ dialect, adapters: [a], responder: echo, configDir: configDir() });
    });
    after(async () => {
      await t.stop();
    });

    it('resolving a conversation starts one run that thanks the customer once; a redelivered event starts none', async () => {
      await a.receive('ana', 'hello', { locale: 'en' });
      await until(() => texts('ana').includes('echo: hello') || undefined, 10_000, 'the bot answering');
      const identity = await t.hub.storage.customers.findIdentity('alpha', 'ana');
      assert.ok(identity);
      const [conv] = await t.hub.storage.conversations.ofCustomer(identity.customerId);
      assert.ok(conv);
      await t.hub.agentActions.resolve(conv.id, { id: 'ag-7', name: 'Agent Seven' });

      const resolved = await until(async () => (await t.hub.storage.events.ofConversation(conv.id)).find((e) => e.type === 'conversation.resolved'), 10_000, 'the resolved event');
      const key = `conv:${resolved.id}:thank-you`;
      const engine = t.hub.workflows.engine;
      assert.ok(engine);
      const event = await until(() => engine.repo.eventByKey(key), 10_000, "the trigger's event");
      assert.equal(event.type, 'conversation.resolved');
      assert.equal(event.customerId, identity.customerId);
      assert.deepEqual(event.data, { agentId: 'ag-7' });
      const run = await until(async () => {
        const [r] = await engine.repo.runsOfEvent(event.id);
        return r?.status === 'done' ? r : undefined;
      }, 10_000, 'the run done');
      assert.equal(run.workflow, 'thank-you');
      await until(() => texts('ana').some((x) => x.startsWith('Thanks')) || undefined, 10_000, 'the thank-you');

      // The same core event again (at-least-once delivery): no second event, run or message.
      assert.equal(await t.hub.subs.deliver(WORKFLOWS_SUBSCRIBER, resolved), true);
      assert.equal((await engine.repo.runsOfEvent(event.id)).length, 1);
      assert.equal((await engine.repo.eventByKey(key))?.id, event.id);
      // A next message as the barrier (the conversation's sends go out in order).
      await a.receive('ana', 'bye');
      await until(() => texts('ana').includes('echo: bye') || undefined, 10_000, 'the bot answering the next message');
      assert.deepEqual(texts('ana').filter((x) => x.startsWith('Thanks')), ['Thanks for talking to us! (agent ag-7)']);
    });
  });
}
