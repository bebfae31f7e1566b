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
import { context, diag } from '@opentelemetry/api';
import { readAttributionHeaders } from '../../../attribution/headers.js';
import { resolveTags } from '../../../attribution/resolve.js';
import { TAG_NAMES } from '../../../attribution/tags.js';
import type { BlockedCallError } from '../../../errors/blocked-call-error.js';
import type { FuseBoard } from '../../../fuses/fuse-board.js';
import { internalError } from '../../../internal-errors.js';
import type { SdkResource } from '../../../internal-types.js';
import type { Tags } from '../../../types.js';
import { type AnyFunction, estimateRequest, type SdkServices } from '../../sdk-adapter.js';
import { isApiPromise, type OpenAIPromises } from '../api-promise.js';
import { isPlainObject } from '../read.js';
import {
  foldBatchInput,
  METADATA_MAX_KEYS,
  METADATA_MAX_VALUE_LENGTH,
  metadataKey,
} from './batch-lines.js';
import { BatchResults } from './batch-results.js';

/** Instruments `batches.create` and `files.content`. */
export class BatchApi {
  private readonly results: BatchResults;
  private warnedFull = false;

  constructor(private readonly options: SdkServices) {
    this.results = new BatchResults(options);
  }

  /** The wrapper of `Batches.prototype.create`. */
  patchCreate(
    original: AnyFunction,
    enabled: () => boolean,
    promises: OpenAIPromises,
  ): AnyFunction {
    const self = this;
    return function tokenfuseBatchCreate(this: SdkResource, ...args: any[]) {
      if (!enabled()) return original.apply(this, args);
      let callArgs = args;
      let tags: Tags | undefined;
      try {
        ({ args: callArgs, tags } = self.stamp(args));
      } catch (err) {
        internalError('instrumentation', 'stamping a batch failed; creating it untouched', err);
      }
      const board = self.options.board;
      if (tags === undefined || !board.active || promises.apiPromise === undefined)
        return original.apply(this, callArgs);
      return self.admitThenCreate(this, original, callArgs, tags, board, promises);
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
          self.results.watch(this, fileId, result, context.active(), Date.now());
        }
      } catch (err) {
        internalError(
          'instrumentation',
          'watching a file read failed; the read is unaffected',
          err,
        );
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
    promises: OpenAIPromises,
  ): unknown {
    const ready = this.admitBatch(resource, callArgs[0], tags, board).catch((err: unknown) => {
      internalError('instrumentation', 'admitting a batch failed; creating it unadmitted', err);
      return undefined;
    });
    return promises.deferred(resource, ready, (blocked) => {
      if (blocked !== undefined) throw blocked;
      return original.apply(resource, callArgs);
    });
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
}
