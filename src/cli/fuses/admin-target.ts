import type { Amounts } from '../../budgets/budget.js';
import type { ManualActionName } from '../../fuses/fuse-events.js';
import type { FuseSnapshot } from '../../fuses/fuse-snapshot.js';
import type { ManualNote } from '../../fuses/fuse-store.js';
import { CliError } from '../cli-error.js';
import type { FusesTarget } from './target.js';

/** A fuse as the admin endpoint sends it (JSON: dates as strings). */
type WireFuse = Omit<FuseSnapshot, 'windowStart' | 'windowEnd'> & {
  windowStart: string;
  windowEnd: string | null;
};

function snapshot(w: WireFuse): FuseSnapshot {
  return {
    ...w,
    windowStart: new Date(w.windowStart),
    windowEnd: w.windowEnd === null ? undefined : new Date(w.windowEnd),
  };
}

/**
 * A running process's admin endpoint (`admin: { port, token }`): its own fuses,
 * for the in-memory ledger. Every request carries the token as a bearer token.
 */
export class AdminTarget implements FusesTarget {
  readonly name: string;
  private readonly base: URL;

  constructor(
    url: string,
    private readonly token: string,
  ) {
    try {
      this.base = new URL(url);
    } catch {
      throw new CliError(
        `--admin ${JSON.stringify(url)} is not a URL (expected http://127.0.0.1:PORT)`,
        2,
      );
    }
    if (this.base.protocol !== 'http:')
      throw new CliError(`--admin ${JSON.stringify(url)}: expected http://127.0.0.1:PORT`, 2);
    this.name = `admin endpoint ${this.base.host}`;
  }

  async list(): Promise<FuseSnapshot[]> {
    const body = (await this.request('GET', '/fuses')) as { fuses: WireFuse[] };
    return body.fuses.map(snapshot);
  }

  async show(budget: string): Promise<FuseSnapshot> {
    return snapshot(
      (await this.request('GET', `/fuses/${encodeURIComponent(budget)}`)) as WireFuse,
    );
  }

  async act(
    budget: string,
    action: ManualActionName,
    note: ManualNote,
    amounts?: Partial<Amounts>,
  ): Promise<FuseSnapshot> {
    const path = `/fuses/${encodeURIComponent(budget)}/${action}`;
    return snapshot((await this.request('POST', path, { ...note, ...amounts })) as WireFuse);
  }

  async close(): Promise<void> {}

  private async request(method: string, path: string, body?: unknown): Promise<unknown> {
    const url = new URL(path, this.base);
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new CliError(
        `cannot reach the ${this.name} (${cause}); is the process running with admin.port set?`,
      );
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new CliError(`the ${this.name} answered ${res.status} with something that is not JSON`);
    }
    if (!res.ok) {
      const message = (parsed as { error?: { message?: string } }).error?.message;
      throw new CliError(message ?? `the ${this.name} answered ${res.status}`);
    }
    return parsed;
  }
}
