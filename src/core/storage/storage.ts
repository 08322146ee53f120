import type { Kysely } from 'kysely';
import { openDb, migrate, type Db, type Dialect, type MigrationSet, type SqliteOptions } from './db.js';
import type { Database } from './tables.js';
import { type Q, Stamp } from './rows.js';
import { CustomerRepo } from './customers.js';
import { ConversationRepo } from './conversations.js';
import { MessageRepo } from './messages.js';
import { EventRepo } from './events.js';
import { ChannelStateRepo } from './channel-state.js';
import { DeskCaseRepo } from './desk-cases.js';
import { PendingAnswerRepo } from './pending-answers.js';
import { ProactiveSendRepo } from './proactive-sends.js';
import { WorkflowRunRepo } from './workflow-runs.js';
import { WebhookDeliveryRepo } from './webhook-deliveries.js';
import { AnalyticsRepo } from './analytics.js';
import { AnalyticsKpiRepo } from './analytics-kpis.js';
import { AuditRepo } from './audit.js';
import { CustomerMergeRepo } from './customer-merges.js';
import { LinkTokenRepo } from './link-tokens.js';
import { CustomerPrivacyRepo } from './customer-privacy.js';
import { EmailCodeRepo } from './email-codes.js';
import { MessageRedactionRepo } from './message-redaction.js';
import { storageMigrations } from './migrations/index.js';
import { GroupCommit } from './group-commit.js';
import { writeFirstMessage, type FirstMessage } from './first-message.js';
import type { InboundMessage } from '../types.js';
import { writeChange, writeChangeInOne, type ChangeWrite, type ChangeWritten } from './change-write.js';
import { PiiRepo } from './pii-rows.js';
import type { PiiCodec } from './pii.js';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';

/** One repository per domain, all on one handle (the database, or a transaction). */
export class Repos {
  readonly customers: CustomerRepo;
  readonly conversations: ConversationRepo;
  readonly messages: MessageRepo;
  readonly events: EventRepo;
  readonly channelState: ChannelStateRepo;
  readonly deskCases: DeskCaseRepo;
  readonly pendingAnswers: PendingAnswerRepo;
  readonly webhookDeliveries: WebhookDeliveryRepo;
  readonly proactiveSends: ProactiveSendRepo;
  readonly workflowRuns: WorkflowRunRepo;
  readonly analytics: AnalyticsRepo;
  readonly analyticsKpis: AnalyticsKpiRepo;
  readonly audit: AuditRepo;
  readonly merges: CustomerMergeRepo;
  readonly linkTokens: LinkTokenRepo;
  readonly privacy: CustomerPrivacyRepo;
  readonly emailCodes: EmailCodeRepo;
  readonly redaction: MessageRedactionRepo;

  constructor(q: Q, stamp: Stamp) {
    this.customers = new CustomerRepo(q, stamp);
    this.conversations = new ConversationRepo(q, stamp);
    this.messages = new MessageRepo(q, stamp);
    this.events = new EventRepo(q, stamp);
    this.channelState = new ChannelStateRepo(q, stamp);
    this.deskCases = new DeskCaseRepo(q, stamp);
    this.pendingAnswers = new PendingAnswerRepo(q, stamp);
    this.webhookDeliveries = new WebhookDeliveryRepo(q, stamp);
    this.proactiveSends = new ProactiveSendRepo(q, stamp);
    this.workflowRuns = new WorkflowRunRepo(q, stamp);
    this.analytics = new AnalyticsRepo(q, stamp);
    this.analyticsKpis = new AnalyticsKpiRepo(q, stamp.pii);
    this.audit = new AuditRepo(q, stamp);
    this.merges = new CustomerMergeRepo(q, stamp);
    this.linkTokens = new LinkTokenRepo(q, stamp);
    this.privacy = new CustomerPrivacyRepo(q, stamp);
    this.emailCodes = new EmailCodeRepo(q, stamp);
    this.redaction = new MessageRedactionRepo(q, stamp);
  }
}

/**
 * The one door to storage (SQLite or PostgreSQL). Outside `storage/` nobody sees a table or the
 * query builder: repositories take and return domain types. Inside `transaction`, use only the
 * `tx` repositories: on SQLite (one connection) a query outside the transaction waits for it forever.
 */
export class Storage extends Repos {
  private readonly db: Kysely<Database>;
  private readonly stamp: Stamp;
  /** SQLite only: transactions in line share one commit. */
  private readonly group: GroupCommit | undefined;
  /** Key check, lookup-hash backfill and key rotation over whole tables (not in a transaction). */
  readonly pii: PiiRepo;

  private constructor(
    private readonly handle: Db,
    stamp: Stamp,
  ) {
    super(handle.kysely, stamp);
    this.db = handle.kysely;
    this.stamp = stamp;
    this.group = handle.dialect === 'sqlite' ? new GroupCommit(handle.kysely) : undefined;
    this.pii = new PiiRepo(handle.kysely, stamp);
  }

  /**
   * Opens `sqlite:<file>` or `postgres://…` and applies the core's migrations, those of the tables
   * behind its own repositories (`storageMigrations`) and the modules'. With `pii` the PII columns
   * are sealed (docs/identity.md "Encryption at rest"): the keys are checked against the ones the
   * database was written with, and rows from before encryption get their lookup hashes. `sqlite`:
   * the connection's checkpoint thread and page cache (a second connection in the process needs
   * neither its own thread nor the full cache). `preparedStatements`: PostgreSQL's named prepared
   * statements (default on; `storage.preparedStatements`).
   */
  static async open(
    url: string,
    opts: { clock?: Clock; migrations?: readonly MigrationSet[]; pii?: PiiCodec; sqlite?: SqliteOptions; preparedStatements?: boolean } = {},
  ): Promise<Storage> {
    const handle = openDb(url, { ...opts.sqlite, ...(opts.preparedStatements !== undefined ? { preparedStatements: opts.preparedStatements } : {}) });
    let storage: Storage;
    try {
      await migrate(handle, [...storageMigrations, ...(opts.migrations ?? [])]);
      storage = new Storage(handle, new Stamp(opts.clock ?? systemClock, opts.pii));
      if (opts.pii?.enabled) {
        await storage.pii.checkKeys();
        await storage.pii.backfillHashes();
      }
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
    return storage;
  }

  /** SQLite: physical commits and the transactions they carried (benchmarks report the ratio). */
  get groupCommitStats(): { commits: number; callers: number } | undefined {
    return this.group ? { ...this.group.stats } : undefined;
  }

  get dialect(): Dialect {
    return this.handle.dialect;
  }

  /**
   * Runs `fn` in a transaction: all of its writes or none. On SQLite concurrent transactions share
   * one commit (`group-commit.ts`); the result comes after the commit either way.
   */
  transaction<T>(fn: (tx: Repos) => Promise<T>): Promise<T> {
    if (this.group) return this.group.run((conn) => fn(new Repos(conn, this.stamp)));
    return this.db.transaction().execute((trx) => fn(new Repos(trx, this.stamp)));
  }

  /**
   * Runs `fn`, which makes one write (a single statement is atomic by itself): on SQLite in a
   * transaction, so that it shares a commit with others (group commit); on PostgreSQL as it is,
   * without the two round trips of `BEGIN` and `COMMIT`.
   */
  single<T>(fn: (tx: Repos) => Promise<T>): Promise<T> {
    if (this.group) return this.transaction(fn);
    return fn(this);
  }

  /**
   * The writes of one conversation change (`change-write.ts`), all or none; null when the
   * conversation's version moved. PostgreSQL: one statement. SQLite: a transaction (sharing a
   * commit with others).
   */
  writeChange(w: ChangeWrite): Promise<ChangeWritten | null> {
    if (this.handle.dialect === 'postgres') return writeChangeInOne(this.db, this, w);
    return this.transaction((tx) => writeChange(tx, w));
  }

  /**
   * PostgreSQL: the first message of a sender nobody knows, with their customer, identity and
   * conversation, in one statement (`first-message.ts`); undefined when someone was first (nothing
   * written) and on SQLite, where the caller's transaction does it.
   */
  writeFirstMessage(msg: InboundMessage, threadKey: string | null): Promise<FirstMessage | undefined> {
    if (this.handle.dialect !== 'postgres') return Promise.resolve(undefined);
    return writeFirstMessage(this.db, this, msg, threadKey);
  }

  async ping(): Promise<void> {
    await this.db.selectFrom('customers').select('id').limit(1).execute();
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}
