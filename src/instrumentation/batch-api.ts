/**
 * The OpenAI Batch API: half-price bulk work, which no call wrapper sees, since
 * the work runs at the provider and comes back as a file.
 *
 * - `batches.create`: the caller's attribution (resolved as for any call:
 *   defaults, context and baggage, per-call headers) is stamped into the batch's
 *   `metadata` as `tokenfuse_<tag>` keys, so whoever reads the results later, in
 *   this process or another, knows whom to charge.
 * - `files.content(id)`: when the file turns out to be a batch's output (or error)
 *   file, every line is priced at the batch rate (`pricing.serviceTiers.batch`)
 *   and counted through the accountant, attributed from the batch's metadata. The
 *   read gets ONE span, not one per line (a batch can hold 50,000 lines).
 * - Once only: a result file is counted once per process (remembered by batch
 *   and file id) and, with the Redis ledger, once per fleet (`SET NX` per file).
 */
import {
  type Context,
  context,
  diag,
  SpanKind,
  SpanStatusCode,
  type Tracer,
} from '@opentelemetry/api';
import type { Accountant } from '../accounting/accountant.js';
import { ATTR } from '../accounting/span-attributes.js';
import type { UsageRecord } from '../accounting/usage-record.js';
import { readAttributionHeaders } from '../attribution/headers.js';
import { resolveTags } from '../attribution/resolve.js';
import { TAG_ATTRIBUTES, TAG_NAMES } from '../attribution/tags.js';
import type { ResolvedConfig } from '../config/resolved-config.js';
import type { BlockedCallError } from '../errors/blocked-call-error.js';
import type { FuseBoard } from '../fuses/fuse-board.js';
import type { ApiPromiseLike, SdkResource } from '../internal-types.js';
import type { PricingIssues } from '../metrics/pricing-issues.js';
import type { ProviderInfo } from '../pricing/providers.js';
import { BATCH_TIER } from '../pricing/service-tiers.js';
import type { TagName, Tags } from '../types.js';
import {
  type ApiAdapter,
  chatAdapter,
  embeddingsAdapter,
  estimateRequest,
  responsesAdapter,
} from './api-adapters.js';

/** Metadata limits of the OpenAI API. */
export const METADATA_MAX_KEYS = 16;
export const METADATA_MAX_KEY_LENGTH = 64;
export const METADATA_MAX_VALUE_LENGTH = 512;

/** Metadata key holding a tag: `tokenfuse_department`, … */
export function metadataKey(tag: TagName): string {
  return `tokenfuse_${tag}`;
}

/** Span attributes of a batch result read. */
export const BATCH_ATTR = {
  batchId: 'tokenfuse.batch.id',
  fileId: 'tokenfuse.batch.file_id',
  lines: 'tokenfuse.batch.lines',
  failedLines: 'tokenfuse.batch.lines_failed',
  alreadyCounted: 'tokenfuse.batch.already_counted',
} as const;

/** Batches looked through (newest first) to find the one a result file belongs to. */
const MAX_BATCHES_LISTED = 1000;
/** Result files remembered as counted, and file → batch entries kept, per process. */
const MAX_REMEMBERED = 10_000;

const ADAPTERS: Record<string, ApiAdapter> = {
  '/v1/chat/completions': chatAdapter,
  '/v1/responses': responsesAdapter,
  '/v1/embeddings': embeddingsAdapter,
};

/** What the results of a batch are attributed and priced by. */
interface BatchInfo {
  id: string;
  endpoint: string | undefined;
  tags: Tags;
  /** Seconds since the epoch; prices are taken at the batch's creation. */
  createdAt: number | undefined;
}

/** The fleet-wide once-only mark: true when this caller is the first to count `key`. */
export type ClaimOnce = (key: string) => Promise<boolean>;

export interface BatchApiOptions {
  config: ResolvedConfig;
  accountant: Accountant;
  issues: PricingIssues;
  tracer: () => Tracer;
  providerOf: (baseURL: string | undefined) => ProviderInfo;
  /** Fleet-wide once-only claim (the Redis ledger); per process only when omitted. */
  claimOnce?: ClaimOnce | undefined;
  /** Budgets a batch is admitted by at `batches.create`. */
  board?: FuseBoard | undefined;
  /** The SDK's APIPromise class, for a create that waits for its admission. */
  apiPromiseClass?: () => ApiPromiseClass | undefined;
}

type ApiPromiseClass = new (
  client: unknown,
  responsePromise: Promise<never>,
  parseResponse?: (client: unknown, props: unknown) => unknown,
) => unknown;

/** Output tokens reserved for a batch line that sets no limit. */
const UNBOUNDED_LINE_OUTPUT = 256;

type AnyFunction = (this: any, ...args: any[]) => any;

/** Instruments `batches.create` and `files.content`. */
export class BatchApi {
  /** Result files counted by this process, by file id. */
  private readonly counted = new Set<string>();
  /** Output / error file id → its batch, from batches seen in lists. */
  private readonly byFile = new Map<string, BatchInfo>();
  private warnedFull = false;
  private warnedNotFound = false;
  private warnedOnce = false;

  constructor(private readonly options: BatchApiOptions) {}

  /** The wrapper of `Batches.prototype.create`. */
  patchCreate(original: AnyFunction, enabled: () => boolean): AnyFunction {
    const self = this;
    return function tokenfuseBatchCreate(this: SdkResource, ...args: any[]) {
      if (!enabled()) return original.apply(this, args);
      let callArgs = args;
      let tags: Tags | undefined;
      try {
        ({ args: callArgs, tags } = self.stamp(args));
      } catch (err) {
        diag.error('tokenfuse: stamping a batch failed; creating it untouched', err);
      }
      const board = self.options.board;
      const APIPromise = self.options.apiPromiseClass?.();
      if (tags === undefined || board === undefined || !board.active || APIPromise === undefined)
        return original.apply(this, callArgs);
      return self.admitThenCreate(this, original, callArgs, tags, board, APIPromise);
    };
  }

  /** The wrapper of `Files.prototype.content`. */
  patchContent(original: AnyFunction, enabled: () => boolean): AnyFunction {
    const self = this;
    return function tokenfuseFileContent(this: SdkResource, ...args: any[]) {
      const result = original.apply(this, args);
      if (!enabled()) return result;
      try {
        const fileId = args[0];
        if (typeof fileId === 'string' && isApiPromise(result)) {
          self.watch(this, fileId, result, context.active(), Date.now());
        }
      } catch (err) {
        diag.error('tokenfuse: watching a file read failed; the read is unaffected', err);
      }
      return result;
    };
  }

  /**
   * Admits the batch by its input file before creating it: the SDK's own APIPromise
   * class is returned at once, and the batch is created only once admitted. A
   * blocked batch rejects with the budget error and is never created.
   */
  private admitThenCreate(
    resource: SdkResource,
    original: AnyFunction,
    callArgs: any[],
    tags: Tags,
    board: FuseBoard,
    APIPromise: ApiPromiseClass,
  ): unknown {
    let inner: ApiPromiseLike | undefined;
    const responsePromise = this.admitBatch(resource, callArgs[0], tags, board)
      .catch((err: unknown) => {
        diag.error('tokenfuse: admitting a batch failed; creating it unadmitted', err);
        return undefined;
      })
      .then((blocked) => {
        if (blocked !== undefined) throw blocked;
        const result = original.apply(resource, callArgs);
        if (!isApiPromise(result)) return result;
        inner = result;
        return result.responsePromise;
      });
    const outer = new APIPromise(
      resource?._client,
      responsePromise as Promise<never>,
      (client: unknown, props: unknown) => inner!.parseResponse(client, props),
    ) as ApiPromiseLike;
    outer.asResponse = () =>
      responsePromise.then(() => (inner === undefined ? responsePromise : inner.asResponse()));
    return outer;
  }

  /**
   * Reads the batch's input file (one extra request) and admits its estimate: the
   * file's lines folded into one call of the batch's model, input bounded by the
   * length of its text, output by the lines' own limits (a line without one
   * reserves 256 tokens). Priced at the standard rate, an upper bound of the batch
   * rate. The reservation is released at once: results are counted when read.
   */
  private async admitBatch(
    resource: SdkResource,
    body: any,
    tags: Tags,
    board: FuseBoard,
  ): Promise<BlockedCallError | undefined> {
    const files = (resource as { _client?: { files?: { content?: AnyFunction } } })._client?.files;
    if (typeof body?.input_file_id !== 'string' || typeof files?.content !== 'function')
      return undefined;
    const response = (await files.content(body.input_file_id)) as Response;
    const text = await response.text();
    const folded = foldBatchInput(text, typeof body.endpoint === 'string' ? body.endpoint : '');
    if (folded === undefined) return undefined;
    const provider = this.options.providerOf(resource?._client?.baseURL);
    let result = board.admit({
      tags,
      provider: provider.id,
      model: folded.model,
      ...estimateRequest(folded.adapter, folded.body),
    });
    if (result instanceof Promise) result = await result;
    if ('blocked' in result) {
      // Counted like a blocked call: outcome `blocked`, with the budget that stopped it.
      this.options.accountant.account({
        operation: folded.adapter.operation,
        provider: provider.id,
        providerName: provider.semconvName,
        model: folded.model,
        tags,
        usage: undefined,
        estimated: false,
        outcome: 'blocked',
        errorType: result.blocked.name,
        budget: result.blocked.budget,
        durationS: 0,
        batchId: '',
      });
      return result.blocked;
    }
    board.settle(result.admitted, { tokens: 0, usd: 0, estimated: true });
    return undefined;
  }

  /** The caller's arguments with attribution stamped into `metadata` (never mutated). */
  private stamp(args: any[]): { args: any[]; tags: Tags } {
    const { config } = this.options;
    const [body, options, ...rest] = args;
    if (body === null || typeof body !== 'object') return { args, tags: {} };
    let requestOptions = options;
    let headerTags: Tags | undefined;
    if (config.attribution.headers && isPlainObject(options) && options.headers != null) {
      const read = readAttributionHeaders(options.headers, config.attribution.stripHeaders);
      headerTags = read.tags;
      if (read.stripped !== undefined) requestOptions = { ...options, headers: read.stripped };
    }
    const tags = resolveTags(
      config.attribution.defaults,
      config.attribution.baggage ? context.active() : undefined,
      headerTags,
    );
    const own: Record<string, unknown> = isPlainObject(body.metadata) ? body.metadata : {};
    const metadata: Record<string, unknown> = { ...own };
    let left = METADATA_MAX_KEYS - Object.keys(metadata).length;
    let dropped = 0;
    // Tag order puts the metric labels (department, project, environment) first,
    // so those are the ones kept when room runs out.
    for (const tag of TAG_NAMES) {
      const value = tags[tag];
      const key = metadataKey(tag);
      // The caller's own key wins: it is theirs to set.
      if (value === undefined || Object.hasOwn(own, key)) continue;
      if (left <= 0) {
        dropped += 1;
        continue;
      }
      metadata[key] = value.slice(0, METADATA_MAX_VALUE_LENGTH);
      left -= 1;
    }
    if (dropped > 0) {
      this.options.issues.note('batch_metadata_full');
      if (!this.warnedFull) {
        this.warnedFull = true;
        diag.warn(
          `tokenfuse: a batch's metadata already has ${Object.keys(own).length} keys; ` +
            `${dropped} attribution tag(s) did not fit in the API's ${METADATA_MAX_KEYS} and are ` +
            `not stamped, so its results are counted without them ` +
            `(tokenfuse_pricing_issues_total{reason="batch_metadata_full"})`,
        );
      }
    }
    const stamped = { ...body, metadata };
    return {
      args: args.length <= 1 ? [stamped] : [stamped, requestOptions, ...rest],
      tags,
    };
  }

  /**
   * Reads the file beside the caller (a clone of the response), once the SDK has
   * the response; the caller's own read is untouched.
   */
  private watch(
    resource: SdkResource,
    fileId: string,
    promise: ApiPromiseLike,
    ctx: Context,
    startedAt: number,
  ): void {
    let seen = false;
    const observe = (response: unknown) => {
      if (seen) return;
      seen = true;
      const r = response as Response;
      if (typeof r?.clone !== 'function' || !r.ok) return;
      r.clone()
        .text()
        .then(
          (text) => this.onContent(resource, fileId, text, ctx, startedAt),
          (err) => {
            this.options.issues.note('batch_output_unreadable');
            diag.warn(`tokenfuse: reading file '${fileId}' for batch results failed`, err);
          },
        )
        .catch((err) => diag.error('tokenfuse: accounting batch results failed', err));
    };
    const originalParse = promise.parseResponse;
    promise.parseResponse = function tokenfuseParseFile(client, props) {
      const parsed = originalParse.call(this, client, props);
      Promise.resolve(parsed).then(observe, () => undefined);
      return parsed;
    };
    const originalAsResponse = promise.asResponse;
    promise.asResponse = function tokenfuseFileAsResponse() {
      return originalAsResponse.call(this).then((response: unknown) => {
        observe(response);
        return response;
      });
    };
  }

  private async onContent(
    resource: SdkResource,
    fileId: string,
    text: string,
    ctx: Context,
    startedAt: number,
  ): Promise<void> {
    const lines = parseResultLines(text);
    // Not a batch result file (an upload, a fine-tuning file): nothing to count.
    if (lines === undefined) return;
    const span = this.options
      .tracer()
      .startSpan(
        'batch_results',
        { kind: SpanKind.CLIENT, startTime: startedAt, attributes: { [ATTR.api]: 'batches' } },
        ctx,
      );
    try {
      span.setAttribute(BATCH_ATTR.fileId, fileId);
      span.setAttribute(BATCH_ATTR.lines, lines.length);
      let batch = this.byFile.get(fileId);
      if (batch === undefined) batch = await this.findBatch(resource, fileId);
      const tags = batch?.tags ?? this.readerTags(ctx);
      if (batch === undefined) {
        this.options.issues.note('batch_not_found');
        if (!this.warnedNotFound) {
          this.warnedNotFound = true;
          diag.warn(
            `tokenfuse: file '${fileId}' holds batch results, but no batch among the newest ` +
              `${MAX_BATCHES_LISTED} has it as output or error file; its lines are counted with ` +
              `the reader's attribution (tokenfuse_pricing_issues_total{reason="batch_not_found"})`,
          );
        }
      } else {
        span.setAttribute(BATCH_ATTR.batchId, batch.id);
      }
      for (const name of TAG_NAMES) {
        const value = tags[name];
        if (value !== undefined) span.setAttribute(TAG_ATTRIBUTES[name], value);
      }
      // File ids are unique, and a file is counted whole: the file id is the key, so a
      // batch found on one read and not on another cannot count twice.
      if (!(await this.claim(fileId))) {
        span.setAttribute(BATCH_ATTR.alreadyCounted, true);
        return;
      }
      span.setAttribute(BATCH_ATTR.alreadyCounted, false);
      const { costUsd, failed } = this.account(resource, lines, batch, tags);
      span.setAttribute(BATCH_ATTR.failedLines, failed);
      span.setAttribute(ATTR.costUsd, costUsd);
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(err) });
      throw err;
    } finally {
      span.end();
    }
  }

  /** True when this process (and, with Redis, the fleet) has not counted the file yet. */
  private async claim(fileId: string): Promise<boolean> {
    if (this.counted.has(fileId)) return false;
    remember(this.counted, fileId);
    const claimOnce = this.options.claimOnce;
    if (claimOnce === undefined) return true;
    try {
      return await claimOnce(`batch-results:${fileId}`);
    } catch (err) {
      this.options.issues.note('batch_once_unavailable');
      if (!this.warnedOnce) {
        this.warnedOnce = true;
        diag.warn(
          'tokenfuse: the Redis ledger did not answer whether another process already counted batch results; counting them here (tokenfuse_pricing_issues_total{reason="batch_once_unavailable"})',
          err,
        );
      }
      return true;
    }
  }

  /** Each line becomes one usage record at the batch rate. */
  private account(
    resource: SdkResource,
    lines: ResultLine[],
    batch: BatchInfo | undefined,
    tags: Tags,
  ): { costUsd: number; failed: number } {
    const provider = this.options.providerOf(resource?._client?.baseURL);
    const startedAt = batch?.createdAt === undefined ? undefined : new Date(batch.createdAt * 1000);
    let costUsd = 0;
    let failed = 0;
    for (const line of lines) {
      const body = line.response?.body;
      const adapter = adapterFor(batch?.endpoint, body);
      const status = line.response?.status_code;
      const ok = line.error == null && typeof status === 'number' && status >= 200 && status < 300;
      if (!ok) failed += 1;
      const info =
        ok && adapter
          ? adapter.fromResult(body, this.options.accountant.prices.catalogProviderId(provider.id))
          : undefined;
      const model = typeof body?.model === 'string' ? body.model : 'unknown';
      const record: UsageRecord = {
        operation: adapter?.operation ?? 'chat',
        provider: provider.id,
        providerName: provider.semconvName,
        model,
        responseModel: info?.responseModel,
        tags,
        usage: info?.usage,
        estimated: false,
        outcome: ok ? 'ok' : 'error',
        errorType: ok ? undefined : errorTypeOf(line),
        durationS: 0,
        startedAt,
        serviceTier: BATCH_TIER,
        batchId: batch?.id ?? '',
      };
      costUsd += this.options.accountant.account(record).costUsd;
    }
    return { costUsd, failed };
  }

  /**
   * The batch whose output or error file is `fileId`: looked up in the newest
   * batches through the caller's own client (the file itself does not name it).
   */
  private async findBatch(resource: SdkResource, fileId: string): Promise<BatchInfo | undefined> {
    const batches = (resource as { _client?: { batches?: { list?: AnyFunction } } })._client
      ?.batches;
    if (typeof batches?.list !== 'function') return undefined;
    let seen = 0;
    for await (const b of batches.list({ limit: 100 }) as AsyncIterable<any>) {
      const info = batchInfo(b);
      if (info !== undefined) {
        for (const id of [b.output_file_id, b.error_file_id]) {
          if (typeof id === 'string' && id !== '') {
            if (this.byFile.size >= MAX_REMEMBERED) {
              this.byFile.delete(this.byFile.keys().next().value as string);
            }
            this.byFile.set(id, info);
          }
        }
      }
      if (b?.output_file_id === fileId || b?.error_file_id === fileId) return info;
      if (++seen >= MAX_BATCHES_LISTED) break;
    }
    return undefined;
  }

  private readerTags(ctx: Context): Tags {
    const { config } = this.options;
    return resolveTags(
      config.attribution.defaults,
      config.attribution.baggage ? ctx : undefined,
      undefined,
    );
  }
}

/**
 * A batch's input lines folded into one call body of its endpoint's API, for the
 * admission estimate (OpenAI runs a batch on one model and one endpoint).
 */
function foldBatchInput(
  text: string,
  endpoint: string,
): { adapter: ApiAdapter; model: string; body: any } | undefined {
  const adapter = ADAPTERS[endpoint];
  if (adapter === undefined) return undefined;
  let model: string | undefined;
  const messages: unknown[] = [];
  const inputs: unknown[] = [];
  let output = 0;
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    let line: any;
    try {
      line = JSON.parse(raw);
    } catch {
      continue;
    }
    const body = line?.body;
    if (!isPlainObject(body)) continue;
    if (model === undefined && typeof body.model === 'string') model = body.model;
    if (Array.isArray(body.messages)) messages.push(...body.messages);
    if (typeof body.instructions === 'string')
      inputs.push({ role: 'system', content: body.instructions });
    if (Array.isArray(body.input)) inputs.push(...body.input);
    else if (typeof body.input === 'string')
      inputs.push(
        adapter === embeddingsAdapter ? body.input : { role: 'user', content: body.input },
      );
    const max = adapter.maxOutputTokens(body);
    output += max.kind === 'set' ? max.tokens : UNBOUNDED_LINE_OUTPUT;
  }
  if (model === undefined) return undefined;
  if (adapter === chatAdapter)
    return { adapter, model, body: { model, messages, max_completion_tokens: output } };
  if (adapter === responsesAdapter)
    return { adapter, model, body: { model, input: inputs, max_output_tokens: output } };
  return { adapter, model, body: { model, input: inputs } };
}

/** One line of a batch output or error file. */
interface ResultLine {
  id?: string;
  custom_id?: string;
  response?: { status_code?: number; request_id?: string; body?: any } | null;
  error?: { code?: string; message?: string } | null;
}

/** The lines of a batch result file, or undefined when the text is not one. */
function parseResultLines(text: string): ResultLine[] | undefined {
  const lines: ResultLine[] = [];
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    let line: unknown;
    try {
      line = JSON.parse(raw);
    } catch {
      return undefined;
    }
    if (
      !isPlainObject(line) ||
      typeof line.custom_id !== 'string' ||
      !('response' in line || 'error' in line)
    ) {
      return undefined;
    }
    lines.push(line as ResultLine);
  }
  return lines.length > 0 ? lines : undefined;
}

function batchInfo(b: any): BatchInfo | undefined {
  if (typeof b?.id !== 'string') return undefined;
  const metadata = isPlainObject(b.metadata) ? b.metadata : {};
  const tags: Tags = {};
  for (const tag of TAG_NAMES) {
    const value = metadata[metadataKey(tag)];
    if (typeof value === 'string' && value !== '') tags[tag] = value;
  }
  return {
    id: b.id,
    endpoint: typeof b.endpoint === 'string' ? b.endpoint : undefined,
    tags,
    createdAt: typeof b.created_at === 'number' ? b.created_at : undefined,
  };
}

/** The adapter by the batch's endpoint, else by the shape of the body. */
function adapterFor(endpoint: string | undefined, body: any): ApiAdapter | undefined {
  if (endpoint !== undefined && ADAPTERS[endpoint]) return ADAPTERS[endpoint];
  if (body?.object === 'chat.completion') return chatAdapter;
  if (body?.object === 'response') return responsesAdapter;
  if (body?.object === 'list') return embeddingsAdapter;
  return undefined;
}

function errorTypeOf(line: ResultLine): string {
  const code =
    line.error?.code ?? line.response?.body?.error?.code ?? line.response?.body?.error?.type;
  if (typeof code === 'string' && code !== '') return code;
  const status = line.response?.status_code;
  return typeof status === 'number' ? String(status) : '_OTHER';
}

function remember(set: Set<string>, key: string): void {
  if (set.size >= MAX_REMEMBERED) set.delete(set.values().next().value as string);
  set.add(key);
}

function isPlainObject(value: unknown): value is Record<string, any> {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    typeof (value as { then?: unknown }).then !== 'function'
  );
}

function isApiPromise(value: unknown): value is ApiPromiseLike {
  return (
    value instanceof Promise &&
    typeof (value as ApiPromiseLike).parseResponse === 'function' &&
    typeof (value as ApiPromiseLike).asResponse === 'function'
  );
}
