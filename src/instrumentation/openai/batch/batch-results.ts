/**
 * Batch result files: read beside the caller, priced line by line at the batch
 * rate, attributed from the batch's metadata, and counted once per process (and
 * once per fleet with the Redis ledger).
 */
import { type Context, diag, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ATTR } from '../../../accounting/span-attributes.js';
import type { UsageRecord } from '../../../accounting/usage-record.js';
import { resolveTags } from '../../../attribution/resolve.js';
import { TAG_ATTRIBUTES, TAG_NAMES } from '../../../attribution/tags.js';
import { internalError } from '../../../internal-errors.js';
import type { ApiPromiseLike, SdkResource } from '../../../internal-types.js';
import { BATCH_TIER } from '../../../pricing/service-tiers.js';
import type { Tags } from '../../../types.js';
import type { AnyFunction, SdkServices } from '../../sdk-adapter.js';
import {
  adapterFor,
  BATCH_ATTR,
  type BatchInfo,
  batchInfo,
  errorTypeOf,
  MAX_REMEMBERED,
  parseResultLines,
  type ResultLine,
  remember,
} from './batch-lines.js';

/** Batches looked through (newest first) to find the one a result file belongs to. */
const MAX_BATCHES_LISTED = 1000;

/** Counts the batch result files the caller reads through `files.content`. */
export class BatchResults {
  /** Result files counted by this process, by file id. */
  private readonly counted = new Set<string>();
  /** Output / error file id → its batch, from batches seen in lists. */
  private readonly byFile = new Map<string, BatchInfo>();
  private warnedNotFound = false;
  private warnedOnce = false;

  constructor(private readonly options: SdkServices) {}

  /**
   * Reads the file beside the caller (a clone of the response), once the SDK has
   * the response; the caller's own read is untouched.
   */
  watch(
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
        .catch((err) => internalError('accounting', 'accounting batch results failed', err));
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
