import type { Amounts, Budget } from '../../budgets/budget.js';
import { loadConfig } from '../../config/index.js';
import { UnknownBudgetError } from '../../errors/usage-errors.js';
import type { ManualActionName } from '../../fuses/fuse-events.js';
import { type FuseSnapshot, fuseSnapshot } from '../../fuses/fuse-snapshot.js';
import type { ManualNote } from '../../fuses/fuse-store.js';
import { checkRaise } from '../../fuses/manual-control.js';
import { ledgerHost } from '../../fuses/stores/redis/connection.js';
import { RedisFuseStore } from '../../fuses/stores/redis/store.js';
import { CliError } from '../cli-error.js';
import type { FusesTarget } from './target.js';

/** How long the command waits for Redis: an operator at a terminal, not a call on the hot path. */
const OPERATOR_TIMEOUT_MS = 5000;

/**
 * The Redis ledger, with the budgets of the config file (`--config`, else
 * `TOKENFUSE_CONFIG`, else `tokenfuse.config.yaml` here): the file says what each
 * budget is (window, limits), Redis what it has spent. `--redis` overrides
 * `ledger.url`. Reads and changes go through the Redis store's own scripts, so
 * they are atomic with the fleet's admissions and journalled like them.
 */
export class RedisTarget implements FusesTarget {
  readonly name: string;
  private readonly budgets: Budget[];
  private readonly store: RedisFuseStore;

  constructor(options: { config?: string | undefined; redis?: string | undefined }) {
    const env = { ...process.env };
    if (options.redis !== undefined) env.TOKENFUSE_LEDGER_URL = options.redis;
    const config = loadConfig(
      options.config !== undefined ? { env, path: options.config } : { env },
    );
    const url = config.ledger.url;
    if (url === undefined)
      throw new CliError(
        `no Redis ledger to read: pass --redis redis://HOST:PORT, or --config a file with ledger.url (read ${config.source}); for a process with the memory ledger use --admin`,
        2,
      );
    if (config.budgets.length === 0)
      throw new CliError(
        `no budgets in ${config.source === 'defaults' ? 'the configuration (no config file found; pass --config FILE)' : config.source}: the file says what each budget is, Redis what it has spent`,
        2,
      );
    this.budgets = config.budgets;
    this.name = `redis ${ledgerHost(url)}`;
    const l = config.ledger;
    this.store = new RedisFuseStore({
      url,
      keyPrefix: l.keyPrefix,
      timeoutMs: Math.max(l.timeoutMs, OPERATOR_TIMEOUT_MS),
      onFailure: 'closed',
      connectTimeoutMs: l.connectTimeoutMs,
      shutdownTimeoutMs: 1000,
      tls: l.tls,
      username: l.username,
      password: l.password,
    });
  }

  async list(): Promise<FuseSnapshot[]> {
    const now = Date.now();
    const read = await this.store.inspect(this.budgets, now);
    return this.budgets.map((b, i) => fuseSnapshot(b, read.states[i]!));
  }

  async show(name: string): Promise<FuseSnapshot> {
    const budget = this.budget(name);
    const read = await this.store.inspect([budget], Date.now());
    return fuseSnapshot(budget, read.states[0]!);
  }

  async act(
    name: string,
    action: ManualActionName,
    note: ManualNote,
    amounts?: Partial<Amounts>,
  ): Promise<FuseSnapshot> {
    const budget = this.budget(name);
    const raised = action === 'raise' ? checkRaise(budget, amounts) : undefined;
    const outcome = await this.store.control(budget, action, Date.now(), {
      ...(raised !== undefined ? { amounts: raised } : {}),
      note,
    });
    return fuseSnapshot(budget, outcome.states[0]!);
  }

  close(): Promise<void> {
    return this.store.close();
  }

  private budget(name: string): Budget {
    const budget = this.budgets.find((b) => b.name === name);
    if (budget === undefined)
      throw new UnknownBudgetError(
        name,
        this.budgets.map((b) => b.name),
      );
    return budget;
  }
}
