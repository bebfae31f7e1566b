import type { Attributes, Meter } from '@opentelemetry/api';
import { type Budget, UNITS, windowLabel } from '../budgets/budget.js';
import { FUSE_STATE_VALUE } from '../fuses/fuse.js';
import type { FuseBoard } from '../fuses/fuse-board.js';
import type { LedgerErrorOperation, LedgerErrorReason } from '../fuses/fuse-store.js';
import { MANUAL_ACTIONS } from '../fuses/manual-control.js';
import type { WebhookNotifier } from '../fuses/webhook-notifier.js';
import { WEBHOOK_DROP_REASONS } from '../fuses/webhook-queue.js';
import { BUDGET_LABELS, countersOf, FUSE_METRIC, METRIC_HELP } from './contract.js';

/** Instruments of {@link FUSE_METRIC} that are monotonic counters (`_total` in Prometheus). */
export const FUSE_COUNTERS: ReadonlySet<string> = countersOf(FUSE_METRIC);
export { FUSE_METRIC };

/** Values of the `operation` and `reason` labels of `tokenfuse_ledger_errors_total` for the shared (Redis) ledger. */
export const LEDGER_OPERATIONS = ['admit', 'settle', 'reconcile'] as const;
export const LEDGER_FAILURES = ['timeout', 'connection', 'script'] as const;
/** Its `reason` values for `operation="restore"` (reading spend back from Prometheus, `ledger.restore`). */
export const RESTORE_FAILURES = ['timeout', 'connection', 'response'] as const;

/** Labels of a budget's series: its name, window, and the fields of its match. */
export function budgetLabels(budget: Budget): Attributes {
  const labels: Attributes = { budget: budget.name, window: windowLabel(budget.window) };
  const m = budget.match.spec;
  for (const key of BUDGET_LABELS) {
    if (m[key] !== undefined) labels[key] = m[key];
  }
  return labels;
}

/**
 * Registers the budget and fuse gauges on `meter`. They are observed at collection
 * time from the board, so they cost nothing per call. With the shared (Redis)
 * ledger they report the fleet's numbers: each collection first refreshes them from
 * Redis (within the ledger's timeout; the last numbers seen otherwise), and
 * `tokenfuse_ledger_errors_total` counts the ledger's failures.
 */
export function registerFuseMetrics(meter: Meter, board: FuseBoard): void {
  const budgets = board.budgetList();
  if (budgets.length === 0) return;
  const labels = new Map(budgets.map((b) => [b.name, budgetLabels(b)]));
  const unitLabels = new Map(
    budgets.map((b) => [
      b.name,
      Object.fromEntries(UNITS.map((u) => [u, { ...labels.get(b.name), unit: u }])),
    ]),
  );

  const limit = meter.createObservableGauge(FUSE_METRIC.limit, {
    description: METRIC_HELP[FUSE_METRIC.limit],
  });
  const spent = meter.createObservableGauge(FUSE_METRIC.spent, {
    description: METRIC_HELP[FUSE_METRIC.spent],
  });
  const utilization = meter.createObservableGauge(FUSE_METRIC.utilization, {
    description: METRIC_HELP[FUSE_METRIC.utilization],
    unit: '1',
  });
  const state = meter.createObservableGauge(FUSE_METRIC.state, {
    description: METRIC_HELP[FUSE_METRIC.state],
  });
  const trips = meter.createObservableCounter(FUSE_METRIC.trips, {
    description: METRIC_HELP[FUSE_METRIC.trips],
  });
  const wouldBlock = meter.createObservableCounter(FUSE_METRIC.wouldBlock, {
    description: METRIC_HELP[FUSE_METRIC.wouldBlock],
  });

  const manual = meter.createObservableCounter(FUSE_METRIC.manualActions, {
    description: METRIC_HELP[FUSE_METRIC.manualActions],
  });

  // The shared ledger's operations, and restoring from Prometheus: those this board does.
  const failures: Array<{ operation: LedgerErrorOperation; reason: LedgerErrorReason }> = [];
  if (board.shared)
    for (const operation of LEDGER_OPERATIONS)
      for (const reason of LEDGER_FAILURES) failures.push({ operation, reason });
  if (board.restores)
    for (const reason of RESTORE_FAILURES) failures.push({ operation: 'restore', reason });
  if (failures.length > 0) {
    const ledgerErrors = meter.createObservableCounter(FUSE_METRIC.ledgerErrors, {
      description: METRIC_HELP[FUSE_METRIC.ledgerErrors],
    });
    meter.addBatchObservableCallback(
      (result) => {
        const counts = board.ledgerErrors();
        // Every series from the start, so a rate or increase() sees the first failure.
        for (const { operation, reason } of failures) {
          result.observe(ledgerErrors, counts.get(`${operation}:${reason}`) ?? 0, {
            operation,
            reason,
          });
        }
      },
      [ledgerErrors],
    );
  }

  meter.addBatchObservableCallback(
    (result) => {
      const observe = () => {
        for (const fuse of board.list()) {
          const base = labels.get(fuse.budget)!;
          const byUnit = unitLabels.get(fuse.budget)!;
          for (const unit of UNITS) {
            const l = fuse.limit[unit];
            if (l === undefined) continue;
            result.observe(limit, l, byUnit[unit]);
            result.observe(spent, fuse.spent[unit], byUnit[unit]);
            result.observe(utilization, fuse.spent[unit] / l, byUnit[unit]);
          }
          result.observe(state, FUSE_STATE_VALUE[fuse.state], base);
          result.observe(trips, fuse.trips, base);
          if (fuse.action === 'monitor')
            result.observe(wouldBlock, board.wouldBlockCount(fuse.budget), base);
        }
        // After the refresh, which reads other processes' actions from the shared ledger's
        // journal; every action from the start, so an increase() sees the first one.
        for (const action of MANUAL_ACTIONS)
          result.observe(manual, board.manualActionCount(action), { action });
      };
      // With the shared ledger: its numbers, fresh if it answers within its timeout.
      const refreshing = board.refresh();
      if (refreshing === undefined) return observe();
      return refreshing.then(observe);
    },
    [limit, spent, utilization, state, trips, wouldBlock, manual],
  );
}

/**
 * Registers `tokenfuse_webhook_dropped_total{reason}`: every reason from the start,
 * so that an alert on its increase sees the first drop.
 */
export function registerWebhookMetrics(meter: Meter, notifier: WebhookNotifier): void {
  const dropped = meter.createObservableCounter(FUSE_METRIC.webhookDropped, {
    description: METRIC_HELP[FUSE_METRIC.webhookDropped],
  });
  dropped.addCallback((result) => {
    const counts = notifier.dropped();
    for (const reason of WEBHOOK_DROP_REASONS) result.observe(counts.get(reason) ?? 0, { reason });
  });
}
