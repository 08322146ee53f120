import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import type { OutboundMessage } from '../../src/core/types.js';

const reply = (id: string): OutboundMessage => ({ id, conversationId: 'c1', ref: { channel: 'loopback', chatId: 'u1' }, text: 'hi', author: 'bot' });

test('the loopback keeps what it sent unless told not to; platform ids count every send either way', async () => {
  const kept = new LoopbackAdapter();
  assert.deepEqual((await kept.send(reply('a'))).platformMessageIds, ['lb-1']);
  assert.deepEqual((await kept.send(reply('b'))).platformMessageIds, ['lb-2']);
  assert.deepEqual(kept.sent.map((m) => m.id), ['a', 'b']);

  const seen: string[] = [];
  const dropped = new LoopbackAdapter({ keepSent: false, onSend: (m) => void seen.push(m.id) });
  assert.deepEqual((await dropped.send(reply('a'))).platformMessageIds, ['lb-1']);
  assert.deepEqual((await dropped.send(reply('b'))).platformMessageIds, ['lb-2']);
  assert.equal(dropped.sent.length, 0);
  assert.deepEqual(seen, ['a', 'b']);
});
