import { WebAPIPlatformError, type WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { errorMessage } from '../../core/errors.js';

/** What Slack tells about a customer, as far as the app's scopes allow. */
export interface Profile {
  name?: string;
  email?: string;
  /** The user's workspace (users.info `team_id`). */
  team?: string;
  /** The customer's company: the name of their workspace (team.info). */
  company?: string;
}

/** Entries kept per cache (users, teams); the oldest goes first. */
const MAX_CACHED = 5000;

/**
 * users.info (display name, email with `users:read.email`) and team.info (the company, with
 * `team:read`), cached per process. Each lookup has a time budget, since it runs before Slack's
 * event is acknowledged (3 s): a slow or refused lookup just leaves the field out. A missing scope
 * is logged once with the scope to add, and the method is not asked again.
 */
export class SlackProfiles {
  private readonly users = new Map<string, Profile>();
  private readonly teams = new Map<string, string>();
  private readonly refused = new Set<string>();

  constructor(
    private readonly client: WebClient,
    private readonly log: Logger,
    private readonly enabled: boolean,
    private readonly budgetMs = 1500,
  ) {}

  /** The profile of `user` (of `team`, when the event told); empty when lookups are off or failed. */
  async of(user: string, team: string | undefined): Promise<Profile> {
    if (!this.enabled) return {};
    // One budget for the whole lookup (two rounds at most), so Slack's 3 s ack deadline holds.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<Profile>((resolve) => {
      timer = setTimeout(() => resolve(this.users.get(user) ?? {}), this.budgetMs);
    });
    try {
      return await Promise.race([this.lookup(user, team), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async lookup(user: string, team: string | undefined): Promise<Profile> {
    const [p, company] = await Promise.all([this.user(user), team ? this.company(team) : Promise.resolve(undefined)]);
    const otherTeam = p.team && p.team !== team ? await this.company(p.team) : undefined;
    const c = company ?? otherTeam;
    return { ...p, ...(c ? { company: c } : {}) };
  }

  private async user(id: string): Promise<Profile> {
    const cached = this.users.get(id);
    if (cached) return cached;
    const r = await this.ask('users.info', { user: id });
    const u = r?.user as
      | { name?: string; real_name?: string; team_id?: string; profile?: { display_name?: string; real_name?: string; email?: string } }
      | undefined;
    if (!u) return {};
    const name = u.profile?.display_name || u.profile?.real_name || u.real_name || u.name;
    const p: Profile = { ...(name ? { name } : {}), ...(u.profile?.email ? { email: u.profile.email } : {}), ...(u.team_id ? { team: u.team_id } : {}) };
    remember(this.users, id, p);
    return p;
  }

  private async company(team: string): Promise<string | undefined> {
    const cached = this.teams.get(team);
    if (cached) return cached;
    const r = await this.ask('team.info', { team });
    const name = (r?.team as { name?: string } | undefined)?.name;
    if (name) remember(this.teams, team, name);
    return name;
  }

  private async ask(method: string, args: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
    if (this.refused.has(method)) return undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.client.apiCall(method, args).then((r) => ({ ...r })),
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), this.budgetMs);
        }),
      ]);
    } catch (err) {
      if (err instanceof WebAPIPlatformError && ['missing_scope', 'not_allowed_token_type', 'no_permission'].includes(err.data.error)) {
        this.refused.add(method);
        const scope = method === 'team.info' ? 'team:read' : 'users:read (and users:read.email for emails)';
        this.log.warn({ method, slack: err.data.error }, `slack: ${method} refused (${err.data.error}): customers stay without this detail; add the scope ${scope} to the app to get it`);
        return undefined;
      }
      this.log.info({ method }, `slack: ${method} failed, the customer's profile stays incomplete: ${errorMessage(err)}`);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}

function remember<V>(m: Map<string, V>, k: string, v: V): void {
  if (m.size >= MAX_CACHED) m.delete(m.keys().next().value ?? '');
  m.set(k, v);
}
