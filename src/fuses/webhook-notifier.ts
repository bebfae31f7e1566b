import { diag } from '@opentelemetry/api';
import type { WebhookOptions } from '../types.js';
import type { Disposable } from './events.js';
import type { FuseBoard, ThresholdEvent, TripEvent } from './fuse-board.js';

const TIMEOUT_MS = 5000;

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

/**
 * Posts threshold crossings and fuse trips to webhooks, for teams without
 * Alertmanager. Delivery is best effort: a failure is logged, never retried in
 * a loop, and never touches the LLM call that caused the event.
 */
export function attachWebhooks(board: FuseBoard, webhooks: readonly WebhookOptions[]): Disposable {
  const post = (hook: WebhookOptions, body: unknown) => {
    fetch(hook.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    }).then(
      (res) => {
        if (!res.ok)
          diag.warn(`tokenfuse: webhook ${new URL(hook.url).host} answered ${res.status}`);
        void res.body?.cancel();
      },
      (err) => diag.warn(`tokenfuse: webhook ${new URL(hook.url).host} failed`, err),
    );
  };
  const subscriptions = [
    board.onThreshold((e) => {
      for (const hook of webhooks) post(hook, webhookBody(hook.format, { kind: 'threshold', e }));
    }),
    board.onTrip((e) => {
      for (const hook of webhooks) post(hook, webhookBody(hook.format, { kind: 'trip', e }));
    }),
  ];
  return {
    dispose: () => {
      for (const s of subscriptions) s.dispose();
    },
  };
}
