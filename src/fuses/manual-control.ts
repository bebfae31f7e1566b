import { diag } from '@opentelemetry/api';
import { type Amounts, type Budget, UNITS } from '../budgets/budget.js';
import { InvalidRaiseError } from '../errors/usage-errors.js';
import { logValue } from '../log-text.js';
import type { FuseEvents, ManualActionName } from './fuse-events.js';
import { type FuseSnapshot, fuseSnapshot } from './fuse-snapshot.js';
import {
  type FuseStore,
  isPromise,
  type ManualEntry,
  type ManualNote,
  type ReadOutcome,
} from './fuse-store.js';

/** Every manual action, in the order `tokenfuse_manual_actions_total{action}` lists them. */
export const MANUAL_ACTIONS: readonly ManualActionName[] = ['isolate', 'reset', 'raise'];

/**
 * An operator's hand on the fuses: isolate, reset, raise. Each action goes to the
 * store (Redis keeps a journal of them), then is reported as a `manual` state
 * change naming who and why, logged once, and counted.
 */
export class ManualControl {
  private readonly counts = new Map<ManualActionName, number>();

  constructor(
    private readonly store: FuseStore,
    private readonly events: FuseEvents,
    private readonly now: () => number,
  ) {}

  /** Applies `action` to `budget`; resolves with its fuse after. */
  async apply(
    budget: Budget,
    action: ManualActionName,
    note: ManualNote = {},
    amounts?: Partial<Amounts>,
  ): Promise<FuseSnapshot> {
    const raised = action === 'raise' ? checkRaise(budget, amounts) : undefined;
    const now = this.now();
    const pending = this.store.control(budget, action, now, {
      ...(raised !== undefined ? { amounts: raised } : {}),
      note,
    });
    const outcome: ReadOutcome = isPromise(pending) ? await pending : pending;
    this.counts.set(action, (this.counts.get(action) ?? 0) + 1);
    this.events.manual(budget, outcome, { action, by: note.by, reason: note.reason }, now);
    const after = fuseSnapshot(budget, outcome.states[0]!);
    diag.info(
      `tokenfuse: budget "${budget.name}" ${action === 'raise' ? `raised by ${describe(raised!)} for this ${after.window}` : action} by hand` +
        ` (by ${note.by === undefined ? 'unnamed' : logValue(note.by)}` +
        `${note.reason === undefined ? '' : `, reason ${logValue(note.reason, 200)}`}); fuse ${after.state}`,
    );
    return after;
  }

  /**
   * Reports an action another process made (read from the shared ledger's journal):
   * the same event, log line and count as one made here. `now` is the budget's state here.
   */
  seen(budget: Budget, e: ManualEntry, now: ReadOutcome): void {
    const at = this.now();
    const transitions =
      e.from === e.to
        ? []
        : [{ budget: budget.name, from: e.from, to: e.to, cause: 'manual' as const }];
    this.counts.set(e.action, (this.counts.get(e.action) ?? 0) + 1);
    // The state the action left, not the one now (later actions may have followed).
    const states = now.states.map((s) => ({ ...s, fuse: { ...s.fuse, state: e.to } }));
    this.events.manual(budget, { states, transitions }, e, at);
    diag.info(
      `tokenfuse: budget "${budget.name}" ${e.action} by hand in another process` +
        ` (by ${e.by === undefined ? 'unnamed' : logValue(e.by)}` +
        `${e.reason === undefined ? '' : `, reason ${logValue(e.reason, 200)}`}); fuse ${e.to}`,
    );
  }

  /** Manual actions this process made or saw in the journal, by action. */
  count(action: ManualActionName): number {
    return this.counts.get(action) ?? 0;
  }
}

/** A raise as amounts in every unit; throws `InvalidRaiseError` naming what cannot be raised. */
export function checkRaise(budget: Budget, amounts: Partial<Amounts> | undefined): Amounts {
  if (budget.window.kind === 'rolling')
    throw new InvalidRaiseError(
      budget.name,
      `its window is rolling (${budget.window.label}) and has no end to raise it until; change its limit instead`,
    );
  const out: Amounts = { tokens: 0, usd: 0, requests: 0 };
  let any = false;
  for (const u of UNITS) {
    const a = amounts?.[u];
    if (a === undefined) continue;
    if (typeof a !== 'number' || !Number.isFinite(a) || a <= 0)
      throw new InvalidRaiseError(budget.name, `${u} ${logValue(a)} is not a positive number`);
    if (budget.limit[u] === undefined)
      throw new InvalidRaiseError(
        budget.name,
        `it has no ${u} limit (it limits ${UNITS.filter((x) => budget.limit[x] !== undefined).join(', ')})`,
      );
    out[u] = a;
    any = true;
  }
  if (!any) throw new InvalidRaiseError(budget.name, 'no amount given (tokens, usd or requests)');
  return out;
}

function describe(a: Amounts): string {
  return UNITS.filter((u) => a[u] !== 0)
    .map((u) => (u === 'usd' ? `$${a[u]}` : `${a[u]} ${u}`))
    .join(' and ');
}
