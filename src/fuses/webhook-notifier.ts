import { internalError } from '../internal-errors.js';
import type { WebhookOptions } from '../types.js';
import type { Disposable } from './events.js';
import type { FuseBoard } from './fuse-board.js';
import type { ThresholdEvent, TripEvent } from './fuse-events.js';
import {
  type WebhookDeliveryLimits,
  type WebhookDropReason,
  WebhookQueue,
} from './webhook-queue.js';

function describeThreshold(e: ThresholdEvent): string {
  const pct = Math.round(e.threshold * 100);
  const spent =
    e.unit === 'usd' ? `$${e.spent.toFixed(2)}` : Math.round(e.spent).toLocaleString('en-US');
  const limit =
    e.unit === 'usd' ? `$${e.limit.toFixed(2)}` : Math.round(e.limit).toLocaleString('en-US');
  return `Budget "${e.budget}" reached ${pct}% of its ${e.window} limit: ${spent} of ${limit}${e.unit === 'usd' ? '' : ` ${e.unit}`}.`;
}

function describeTrip(e: TripEvent): string {
  const verb =
    e.action === 'monitor' ? 'would now block calls (monitor mode)' : 'is open: calls are blocked';
  return `Fuse of budget "${e.budget}" ${verb}; ${e.unit} limit ${e.limit} for this ${e.window} reached.`;
}

/** The request body for one event, in the webhook's format. */
export function webhookBody(
  format: WebhookOptions['format'],
  event: { kind: 'threshold'; e: ThresholdEvent } | { kind: 'trip'; e: TripEvent },
): unknown {
  const text = event.kind === 'threshold' ? describeThreshold(event.e) : describeTrip(event.e);
  switch (format) {
    case 'slack':
      return { text };
    case 'discord':
      return { content: text };
    default:
      return {
        source: 'tokenfuse',
        event: event.kind === 'threshold' ? 'budget.threshold' : 'fuse.trip',
        text,
        ...event.e,
        at: event.e.at.toISOString(),
      };
  }
}

/** The webhooks of a board: unsubscribe with `dispose()`; `dropped()` counts what was given up. */
export interface WebhookNotifier extends Disposable {
  dropped(): ReadonlyMap<WebhookDropReason, number>;
}

/**
 * Posts threshold crossings and fuse trips to webhooks, for teams without
 * Alertmanager. Delivery is best effort and never touches the LLM call that
 * caused the event: every message goes through one bounded {@link WebhookQueue}
 * (concurrency cap, timeout, retries with backoff, newer events of a budget and
 * kind replacing waiting ones, a bounded queue).
 */
export function attachWebhooks(
  board: FuseBoard,
  webhooks: readonly WebhookOptions[],
  limits: WebhookDeliveryLimits,
): WebhookNotifier {
  const queue = new WebhookQueue(limits);
  const post = (
    kind: 'threshold' | 'trip',
    budget: string,
    body: (hook: WebhookOptions) => unknown,
  ) => {
    webhooks.forEach((hook, i) => {
      try {
        queue.push({
          url: hook.url,
          key: `${i}\u0000${kind}\u0000${budget}`,
          body: JSON.stringify(body(hook)),
        });
      } catch (err) {
        internalError('listener', 'queueing a webhook failed', err);
      }
    });
  };
  const subscriptions = [
    board.onThreshold((e) =>
      post('threshold', e.budget, (hook) => webhookBody(hook.format, { kind: 'threshold', e })),
    ),
    board.onTrip((e) =>
      post('trip', e.budget, (hook) => webhookBody(hook.format, { kind: 'trip', e })),
    ),
  ];
  return {
    dropped: () => queue.dropped(),
    dispose: () => {
      for (const s of subscriptions) s.dispose();
    },
  };
}
