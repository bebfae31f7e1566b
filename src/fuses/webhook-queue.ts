import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { diag } from '@opentelemetry/api';
import { redactUrl } from '../errors/redact.js';
import { internalError } from '../internal-errors.js';

/** Why a webhook delivery was dropped: the `reason` label of `tokenfuse_webhook_dropped_total`. */
export const WEBHOOK_DROP_REASONS = [
  'queue_full',
  'coalesced',
  'timeout',
  'failed',
  'rejected',
] as const;
export type WebhookDropReason = (typeof WEBHOOK_DROP_REASONS)[number];

/** Limits of the delivery queue (resolved `webhookDelivery`). */
export interface WebhookDeliveryLimits {
  concurrency: number;
  maxQueue: number;
  retries: number;
  timeoutMs: number;
}

/** One message to post. Messages with the same `key` still waiting are merged: the latest wins. */
export interface WebhookMessage {
  url: string;
  key: string;
  body: string;
}

interface Delivery {
  message: WebhookMessage;
  /** Attempts made so far. */
  attempts: number;
}

type Outcome =
  | { ok: true }
  | {
      ok: false;
      retryable: boolean;
      reason: WebhookDropReason;
      detail: string;
      retryAfterMs?: number;
    };

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;

/**
 * The one queue every webhook message goes through. It exists so that a slow or
 * failing endpoint cannot hurt the app: at most `concurrency` requests are in
 * flight, each bounded by `timeoutMs`; messages wait in a queue of at most
 * `maxQueue`, where a newer message for the same key (budget and event kind)
 * replaces the waiting one; 5xx, 429, 408, timeouts and network errors are
 * retried `retries` times with exponential backoff and jitter. Whatever is given
 * up is counted by reason and logged once per reason. Sockets and timers are
 * unref'd: the queue never keeps the process alive, so deliveries still pending
 * when the app is done are lost with it.
 */
export class WebhookQueue {
  private readonly ready: Delivery[] = [];
  /** Deliveries not in flight (ready or waiting to retry), by key: where a newer message merges. */
  private readonly waiting = new Map<string, Delivery>();
  private retrying = 0;
  private inFlight = 0;
  private readonly drops = new Map<WebhookDropReason, number>(
    WEBHOOK_DROP_REASONS.map((r) => [r, 0]),
  );
  private readonly logged = new Set<WebhookDropReason>();
  // One pool per queue: its idle keep-alive sockets are unref'd by Node, its busy ones by us.
  private readonly httpAgent: HttpAgent;
  private readonly httpsAgent: HttpsAgent;

  constructor(private readonly limits: WebhookDeliveryLimits) {
    this.httpAgent = new HttpAgent({ keepAlive: true, maxSockets: limits.concurrency });
    this.httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: limits.concurrency });
  }

  /** Queues a message; never throws, never waits. */
  push(message: WebhookMessage): void {
    const merged = this.waiting.get(message.key);
    if (merged !== undefined) {
      merged.message = message;
      this.drop('coalesced', message.url, 'a newer event of the same budget and kind replaced it');
      return;
    }
    if (this.ready.length + this.retrying >= this.limits.maxQueue) {
      this.drop('queue_full', message.url, `${this.limits.maxQueue} deliveries already waiting`);
      return;
    }
    const delivery: Delivery = { message, attempts: 0 };
    this.waiting.set(message.key, delivery);
    this.ready.push(delivery);
    this.pump();
  }

  /** Deliveries dropped so far, by reason (every reason present). */
  dropped(): ReadonlyMap<WebhookDropReason, number> {
    return this.drops;
  }

  private pump(): void {
    while (this.inFlight < this.limits.concurrency && this.ready.length > 0) {
      const delivery = this.ready.shift()!;
      this.waiting.delete(delivery.message.key);
      this.inFlight++;
      delivery.attempts++;
      this.send(delivery.message)
        .then((outcome) => this.settle(delivery, outcome))
        // Never an unhandled rejection in the host app, whatever went wrong here.
        .catch((err: unknown) =>
          internalError('listener', 'webhook delivery failed internally', err),
        );
    }
  }

  private settle(delivery: Delivery, outcome: Outcome): void {
    this.inFlight--;
    try {
      if (outcome.ok) return;
      const { key, url } = delivery.message;
      if (this.waiting.has(key)) {
        // A newer message of the same key came while this one was in flight: it supersedes.
        this.drop('coalesced', url, 'a newer event of the same budget and kind replaced it');
        return;
      }
      if (!outcome.retryable || delivery.attempts > this.limits.retries) {
        const tries = delivery.attempts === 1 ? '1 attempt' : `${delivery.attempts} attempts`;
        this.drop(outcome.reason, url, `${outcome.detail} (${tries})`);
        return;
      }
      this.waiting.set(key, delivery);
      this.retrying++;
      const timer = setTimeout(
        () => {
          this.retrying--;
          this.ready.unshift(delivery);
          this.pump();
        },
        this.backoff(delivery.attempts, outcome.retryAfterMs),
      );
      timer.unref();
    } finally {
      this.pump();
    }
  }

  /** Exponential backoff with jitter (half fixed, half random), raised to `Retry-After`. */
  private backoff(attempts: number, retryAfterMs: number | undefined): number {
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (attempts - 1));
    const jittered = ceiling / 2 + (Math.random() * ceiling) / 2;
    return Math.min(BACKOFF_MAX_MS, Math.max(jittered, retryAfterMs ?? 0));
  }

  private drop(reason: WebhookDropReason, url: string, detail: string): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
    if (this.logged.has(reason)) return;
    this.logged.add(reason);
    diag.warn(
      `tokenfuse: webhook delivery to ${redactUrl(url, 'omitted')} dropped (${reason}): ${detail}. ` +
        `Later drops for this reason are only counted in tokenfuse_webhook_dropped_total{reason="${reason}"}.`,
    );
  }

  /** One POST, bounded by the timeout from the first byte out to the last byte in. Never rejects. */
  private send(message: WebhookMessage): Promise<Outcome> {
    const signal = AbortSignal.timeout(this.limits.timeoutMs);
    return new Promise<Outcome>((resolve) => {
      const url = new URL(message.url);
      const https = url.protocol === 'https:';
      let response: IncomingMessage | undefined;
      const req = (https ? httpsRequest : httpRequest)(
        url,
        {
          method: 'POST',
          agent: https ? this.httpsAgent : this.httpAgent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(message.body),
          },
          signal,
        },
        (res: IncomingMessage) => {
          response = res;
          res.on('error', (err) => resolve(failure(err, signal.aborted)));
          res.on('end', () => resolve(outcomeOf(res)));
          // Drained, so that its keep-alive socket can serve the next delivery.
          res.resume();
        },
      );
      // A delivery in flight must not keep the process alive either.
      req.on('socket', (socket) => socket.unref());
      req.on('error', (err) => resolve(failure(err, signal.aborted)));
      // Whatever else happens, a closed request is settled (the first resolve wins).
      req.on('close', () =>
        resolve(
          response?.complete
            ? outcomeOf(response)
            : failure(new Error('connection closed'), signal.aborted),
        ),
      );
      req.end(message.body);
    }).catch((err: unknown) => failure(err, false));
  }
}

function outcomeOf(res: IncomingMessage): Outcome {
  const status = res.statusCode ?? 0;
  if (status >= 200 && status < 300) return { ok: true };
  const retryable = status === 408 || status === 429 || status >= 500;
  const outcome: Outcome = {
    ok: false,
    retryable,
    reason: retryable ? 'failed' : 'rejected',
    detail: `the endpoint answered ${status}`,
  };
  const retryAfter = retryAfterMs(res.headers['retry-after']);
  if (retryAfter !== undefined) outcome.retryAfterMs = retryAfter;
  return outcome;
}

function failure(err: unknown, timedOut: boolean): Outcome {
  if (timedOut)
    return { ok: false, retryable: true, reason: 'timeout', detail: 'no answer in time' };
  const code = (err as { code?: unknown })?.code;
  return {
    ok: false,
    retryable: true,
    reason: 'failed',
    detail: `the request failed${typeof code === 'string' ? ` (${code})` : ''}`,
  };
}

/** `Retry-After` in seconds or as an HTTP date, in ms from now. */
function retryAfterMs(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
