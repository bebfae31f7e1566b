/**
 * The Prometheus HTTP API as the restore and `tokenfuse report` read it: queries by
 * POST (the combined spend queries are long), every failure a {@link RestoreError}
 * whose message names what went wrong and never the URL's credentials.
 */
import { RestoreError } from '../errors/restore-errors.js';

/** One series of a query's answer: an instant vector's `value` or a matrix's `values`. */
export interface PromSeries {
  metric: Record<string, string>;
  value?: [number, string];
  values?: Array<[number, string]>;
}

/** Seconds-with-fraction a Prometheus API parameter accepts, as an RFC 3339 instant. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** A sample's value, undefined for NaN and infinities. */
export function sampleValue(v: string): number | undefined {
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** A Prometheus server's HTTP API (`/api/v1/…`). */
export class PrometheusApi {
  /** Where, for messages (no credentials). */
  readonly location: string;
  private readonly base: string;
  private readonly authorization: string | undefined;

  constructor(url: string) {
    // fetch() refuses URLs with credentials: they become a basic-auth header, and
    // are left out of every message.
    const u = new URL(url);
    if (u.username || u.password) {
      const user = decodeURIComponent(u.username);
      const password = decodeURIComponent(u.password);
      this.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
      u.username = '';
      u.password = '';
    }
    this.base = u.toString().replace(/\/+$/, '');
    this.location = this.base;
  }

  /** An instant (`query`) or range (`query_range`) query's result, checked to be of `resultType`. */
  async query(
    endpoint: 'query' | 'query_range',
    params: Record<string, string>,
    resultType: 'vector' | 'matrix',
    signal: AbortSignal,
  ): Promise<PromSeries[]> {
    const data = await this.call(`api/v1/${endpoint}`, new URLSearchParams(params), signal);
    const d = data as { resultType?: string; result?: unknown } | undefined;
    if (d?.resultType !== resultType || !Array.isArray(d.result))
      throw this.unexpected(
        `a ${d?.resultType ?? 'missing'} result where a ${resultType} was expected`,
      );
    return d.result as PromSeries[];
  }

  /** Label names of the series matching `match` between `start` and `end` (`/api/v1/labels`). */
  async labelNames(
    match: string,
    start: number,
    end: number,
    signal: AbortSignal,
  ): Promise<string[]> {
    const params = new URLSearchParams({ start: isoTime(start), end: isoTime(end) });
    params.append('match[]', match);
    const data = await this.call('api/v1/labels', params, signal);
    if (!Array.isArray(data)) throw this.unexpected('label names that are not a list');
    return data.filter((x): x is string => typeof x === 'string');
  }

  private async call(path: string, body: URLSearchParams, signal: AbortSignal): Promise<unknown> {
    const url = `${this.base}/${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          ...(this.authorization ? { authorization: this.authorization } : {}),
        },
        body,
        signal,
      });
    } catch (err) {
      throw this.fetchFailure(err, signal);
    }
    let answer: { status?: string; error?: string; data?: unknown };
    try {
      answer = (await res.json()) as typeof answer;
    } catch (err) {
      if (signal.aborted) throw this.fetchFailure(err, signal);
      throw new RestoreError(
        'response',
        `HTTP ${res.status} from ${url} is not a Prometheus API answer (not JSON)`,
        { cause: err },
      );
    }
    if (!res.ok || answer.status !== 'success') {
      throw new RestoreError(
        'response',
        `Prometheus answered HTTP ${res.status}${answer.error ? `: ${answer.error}` : ''}`,
      );
    }
    return answer.data;
  }

  private fetchFailure(err: unknown, signal: AbortSignal): RestoreError {
    if (signal.aborted) {
      const reason = signal.reason as { name?: string } | undefined;
      return reason?.name === 'TimeoutError'
        ? new RestoreError('timeout', 'no answer from Prometheus in time', { cause: err })
        : new RestoreError('connection', 'restore cancelled (shutting down)', { cause: err });
    }
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const detail = cause?.code ?? cause?.message ?? (err as Error).message;
    return new RestoreError('connection', `cannot reach Prometheus (${detail})`, { cause: err });
  }

  /** A well-formed answer of an unexpected shape. */
  unexpected(what: string): RestoreError {
    return new RestoreError('response', `unexpected answer from Prometheus: ${what}`);
  }
}
