/**
 * The customer an event names: by `externalId`, else by one of its identities; a customer the hub
 * has never seen is created with those identities (unverified), so their reminders can go out.
 */
import { HubError } from '../core/errors.js';
import type { Customer } from '../core/model.js';
import { isUniqueViolation } from '../core/storage/rows.js';
import type { Storage } from '../core/storage/storage.js';
import type { WorkflowEvent } from './event.js';

type EventCustomer = WorkflowEvent['customer'];

async function find(storage: Storage, c: EventCustomer): Promise<Customer | undefined> {
  let found = c.externalId !== undefined ? await storage.customers.byExternalId(c.externalId) : undefined;
  for (const i of c.identities ?? []) {
    const identity = await storage.customers.findIdentity(i.channel, i.id);
    if (!identity) continue;
    if (found && found.id !== identity.customerId) {
      throw new HubError('CONFLICT', `${i.channel} identity "${i.id}" is customer ${identity.customerId}, not ${found.id}`, { context: { field: 'body.customer.identities' } });
    }
    found ??= await storage.customers.get(identity.customerId);
  }
  return found;
}

/** The event's customer, found or created; an `externalId` new to a found customer is given to them. */
export async function eventCustomer(storage: Storage, c: EventCustomer): Promise<Customer> {
  if (c.externalId === undefined && !c.identities?.length) {
    throw new HubError('INPUT_INVALID', 'customer needs an externalId or at least one identity ({ channel, id })', { context: { field: 'body.customer' } });
  }
  for (let attempt = 0; ; attempt++) {
    const found = await find(storage, c);
    if (found) {
      if (c.externalId !== undefined && found.externalId === null) await storage.customers.setExternalId(found.id, c.externalId);
      return found;
    }
    try {
      return await storage.transaction(async (tx) => {
        const customer = await tx.customers.create({
          externalId: c.externalId ?? null,
          locale: c.locale ?? null,
          timezone: c.timezone ?? null,
          preferredChannel: c.identities?.[0]?.channel ?? null,
        });
        for (const i of c.identities ?? []) {
          await tx.customers.addIdentity({ customerId: customer.id, channel: i.channel, platformUserId: i.id, ref: { channel: i.channel, chatId: i.id }, verified: false });
        }
        return customer;
      });
    } catch (err) {
      // Another event created them meanwhile: find them again.
      if (!isUniqueViolation(err) || attempt > 0) throw err;
    }
  }
}
