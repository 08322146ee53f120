import { join } from 'node:path';
import type { Hub } from './hub.js';
import type { Responder } from '../core/responder.js';
import { HandOverResponder } from '../core/responder.js';

/** The knowledge bot from config (bot + llm sections), reading `config/knowledge`. */
export async function createResponder(hub: Hub): Promise<Responder> {
  void join;
  hub.log.warn('knowledge bot not wired yet: every question is handed to a person');
  return new HandOverResponder();
}
