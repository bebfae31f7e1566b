import { performance } from 'node:perf_hooks';
import { type Context, type Span, SpanStatusCode } from '@opentelemetry/api';
import type { Accountant } from '../accounting/accountant.js';
import { ATTR, latestSpanAttributes } from '../accounting/span-attributes.js';
import type { Outcome, UsageRecord } from '../accounting/usage-record.js';
import type { Admission, FuseBoard } from '../fuses/fuse-board.js';
import { internalError } from '../internal-errors.js';
import type { ProviderCostTotals } from '../metrics/pricing-metrics.js';
import { countTokensBounded, inputTokenCount } from '../pricing/estimate-tokens.js';
import { inputTokens, type NormalizedUsage, outputTokens, totalTokens } from '../pricing/usage.js';
import type { Tags } from '../types.js';
import { ObservedIterator } from './observed-iterator.js';
import type {
  CallObserver,
  IteratorObserver,
  OperationAdapter,
  ResultInfo,
  SdkPromises,
  StreamState,
} from './sdk-adapter.js';

export interface LlmCallInit {
  adapter: OperationAdapter;
  /** The SDK's promise and stream types, to observe the result with. */
  promises: SdkPromises;
  body: any;
  injectedUsage: boolean;
  span: Span;
  ctx: Context;
  tags: Tags;
  provider: string;
  providerName: string;
  model: string;
  accountant: Accountant;
  captureContent: boolean;
  /** performance.now() at the call. */
  startedAt: number;
  /** Wall-clock time at the call (epoch ms): the call is priced at the prices in force then. */
  startTime: number;
  /** The call's claim on its budgets, settled when it ends. */
  admission: Admission | undefined;
  board: FuseBoard;
  /** `service_tier` the request asked for. */
  requestServiceTier?: string | undefined;
  /** Where provider-reported costs are compared with the catalog's. */
  providerCosts?: ProviderCostTotals;
}

/**
 * One instrumented SDK call, from `create()` to its end: the response parsed,
 * the stream finished or abandoned, or an error. Ends its span and accounts the
 * call exactly once, whichever of those happens first.
 */
export class LlmCall implements CallObserver, IteratorObserver {
  private ended = false;
  private firstChunkAt: number | undefined;
  private stream: StreamState | undefined;
  /** `service_tier` the (non-streamed) result says the call ran on. */
  private resultTier: string | undefined;
  /** The provider's own cost figure of a non-streamed result. */
  private providerCostUsd: number | undefined;

  constructor(private readonly init: LlmCallInit) {}

  /** The catalog provider, once looked up: streams read it for every chunk. */
  private catalogId: string | null | undefined;

  /** The call's provider in the price catalog, whose usage fields are read. */
  private catalogProvider(): string | undefined {
    if (this.catalogId === undefined) {
      this.catalogId = this.init.accountant.prices.catalogProviderId(this.init.provider) ?? null;
    }
    return this.catalogId ?? undefined;
  }

  get body(): unknown {
    return this.init.body;
  }

  /** Observes what the SDK method returned: what the caller gets, or undefined when it is not the SDK's promise. */
  attach(returned: unknown, view: unknown): unknown {
    return this.init.promises.attach(returned, this, view);
  }

  /** The service tier the call ran on, as the result or the stream says. */
  private responseTier(): string | undefined {
    return this.resultTier ?? this.stream?.serviceTier;
  }

  /** @internal a parsed result (or stream) on its way to the caller. */
  onResult(result: unknown): unknown {
    if (this.ended || this.stream !== undefined) return result;
    let streamed: unknown;
    try {
      streamed = this.init.promises.wrapStream(result, this);
    } catch (err) {
      internalError(
        'instrumentation',
        'observing an LLM stream failed; the stream itself is unaffected',
        err,
      );
      this.finishEstimated('ok', false);
      return result;
    }
    if (streamed !== undefined) {
      this.stream = {
        usage: undefined,
        responseModel: undefined,
        responseId: undefined,
        finishReasons: [],
        pieces: [],
        firstChunk: false,
      };
      return streamed;
    }
    // Whatever the payload holds, the call ends here, once: its reservation is
    // released and its span ended even when reading the result fails.
    let info: ResultInfo | undefined;
    try {
      info = this.init.adapter.fromResult(result, this.catalogProvider(), this.init.captureContent);
      this.resultTier = info.serviceTier;
      const span = this.init.span;
      if (info.responseId) span.setAttribute(ATTR.responseId, info.responseId);
      if (info.finishReasons) span.setAttribute(ATTR.finishReasons, info.finishReasons);
      if (this.init.captureContent && info.outputText !== undefined) {
        span.setAttribute(
          ATTR.outputMessages,
          JSON.stringify([{ role: 'assistant', content: info.outputText }]),
        );
      }
      this.providerCostUsd = info.providerCostUsd;
    } catch (err) {
      internalError(
        'instrumentation',
        'reading an LLM response failed; the call itself is unaffected',
        err,
      );
    } finally {
      this.finish('ok', info?.usage, info?.responseModel, false);
    }
    return result;
  }

  /** @internal the iterator a stream's caller reads: each item goes through this call. */
  observeIterator(inner: AsyncIterator<unknown>): AsyncIterator<unknown> {
    return new ObservedIterator(inner, this);
  }

  /** @internal the caller took the raw response and nothing will parse it. */
  endUnread(): void {
    this.finishEstimated('ok', false);
  }

  /** @internal called by ObservedIterator for each item. Returns true to hide it. */
  onStreamItem(item: unknown): boolean {
    const state = this.stream!;
    const hide = this.init.adapter.onStreamItem(
      item,
      state,
      this.init.injectedUsage,
      this.catalogProvider(),
    );
    if (state.firstChunk && this.firstChunkAt === undefined) this.firstChunkAt = performance.now();
    return hide;
  }

  /**
   * @internal For streams under a budget with `cutOffStreams`: the error to end the
   * stream with once its output (about one token per delta) pushes the budget over.
   */
  cutOffError(): Error | undefined {
    const admission = this.init.admission;
    if (admission === undefined || admission.cutOff.length === 0 || this.ended) return undefined;
    const err = this.init.board.streamOverLimit(admission, this.stream!.pieces.length);
    if (err !== undefined) this.init.span.setAttribute(ATTR.streamCutOff, true);
    return err;
  }

  /** @internal the stream ended (`done`) or was abandoned (`return()`). */
  onStreamEnd(abandoned: boolean): void {
    if (this.ended) return;
    const state = this.stream!;
    const span = this.init.span;
    try {
      if (abandoned) span.setAttribute(ATTR.streamAbandoned, true);
      if (state.responseId) span.setAttribute(ATTR.responseId, state.responseId);
      const reasons = state.finishReasons.filter((r) => r !== undefined);
      if (reasons.length > 0) span.setAttribute(ATTR.finishReasons, reasons);
      if (this.init.captureContent) {
        span.setAttribute(
          ATTR.outputMessages,
          JSON.stringify([{ role: 'assistant', content: state.pieces.join('') }]),
        );
      }
    } catch (err) {
      internalError(
        'instrumentation',
        'reading an LLM stream failed; the stream itself is unaffected',
        err,
      );
    }
    if (state.usage !== undefined) this.finish('ok', state.usage, state.responseModel, false);
    else this.finishEstimated('ok', true);
  }

  /** Ends the call as failed. Safe to call more than once. */
  fail(err: unknown): void {
    if (this.ended) return;
    let errorType = '_OTHER';
    let usage: NormalizedUsage | undefined;
    const state = this.stream;
    try {
      errorType = errorTypeOf(err);
      const span = this.init.span;
      span.setAttribute(ATTR.errorType, errorType);
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: err instanceof Error ? err.message : String(err),
      });
      // A stream that fails midway was still billed for what it streamed.
      if (state !== undefined && (state.usage !== undefined || state.pieces.length > 0))
        usage = state.usage ?? this.estimate(true);
    } catch (e) {
      internalError('instrumentation', 'recording a failed LLM call failed', e);
    }
    this.finish(
      'error',
      usage,
      usage === undefined ? undefined : state?.responseModel,
      usage !== undefined && state?.usage === undefined,
      errorType,
    );
  }

  private finishEstimated(outcome: Outcome, fromStream: boolean): void {
    let usage: NormalizedUsage | undefined;
    try {
      usage = this.estimate(fromStream);
    } catch (err) {
      internalError('instrumentation', 'estimating tokens failed', err);
    }
    this.finish(outcome, usage, this.stream?.responseModel, usage !== undefined);
  }

  private estimate(fromStream: boolean): NormalizedUsage {
    const input = inputTokenCount(this.init.adapter.billedInput(this.init.body));
    // Bounded: a long stream is not tokenized on the caller's event loop past MAX_TOKENIZED_CHARS.
    const output =
      fromStream && this.stream ? countTokensBounded([this.stream.pieces.join('')]) : 0;
    return { input, cacheRead: 0, cacheWrite: 0, output, reasoning: 0 };
  }

  private finish(
    outcome: Outcome,
    usage: NormalizedUsage | undefined,
    responseModel: string | undefined,
    estimated: boolean,
    errorType?: string,
  ): void {
    if (this.ended) return;
    this.ended = true;
    // Usage with rejected fields (counted as 0) is not what the provider billed:
    // say so on the span, and keep it out of the per-model output average.
    if (usage?.invalid !== undefined) estimated = true;
    const init = this.init;
    const span = init.span;
    // Each step on its own: a failure in one (pricing, a span attribute) must not
    // keep the reservation from being settled or the span from ending.
    let costUsd = 0;
    let priced = false;
    let fromProvider = false;
    const timeToFirstChunkS =
      this.firstChunkAt === undefined ? undefined : (this.firstChunkAt - init.startedAt) / 1000;
    try {
      const end = performance.now();
      const record: UsageRecord = {
        operation: init.adapter.operation,
        provider: init.provider,
        providerName: init.providerName,
        model: init.model,
        responseModel,
        tags: init.tags,
        usage,
        estimated,
        outcome,
        errorType,
        durationS: (end - init.startedAt) / 1000,
        timeToFirstChunkS,
        // What ran is what is billed; a request's `auto` is resolved by the response.
        serviceTier: this.responseTier() ?? init.requestServiceTier,
        startedAt: init.startTime,
        providerCostUsd: this.providerCostUsd ?? this.stream?.providerCostUsd,
      };
      const result = init.accountant.account(record);
      ({ costUsd, priced } = result);
      const catalogUsd = result.catalogUsd;
      fromProvider = result.fromProvider === true;
      if (record.providerCostUsd !== undefined) {
        span.setAttribute(ATTR.costProviderUsd, record.providerCostUsd);
        init.providerCosts?.add(init.provider, record.providerCostUsd, catalogUsd ?? 0);
      }
    } catch (err) {
      internalError('accounting', 'accounting an LLM call failed', err);
    }
    try {
      if (init.admission !== undefined) {
        init.board.settle(init.admission, {
          tokens: usage ? totalTokens(usage) : 0,
          usd: costUsd,
          outputTokens: usage?.output,
          estimated,
        });
      }
    } catch (err) {
      internalError('settlement', 'settling an LLM call against its budgets failed', err);
    }
    try {
      // A span the sampler dropped records nothing: its attributes are not worth computing.
      if (span.isRecording()) {
        this.setEndAttributes(span, responseModel, estimated, usage, costUsd, priced);
        // The latest conventions' attributes, when opted in (their facts built only then).
        if (usage !== undefined && init.accountant.genAiLatest) {
          const streamed = this.stream !== undefined;
          const facts = { usage, costUsd, priced, fromProvider, streamed, timeToFirstChunkS };
          span.setAttributes(latestSpanAttributes(facts));
        }
      }
    } catch (err) {
      internalError('instrumentation', 'ending an LLM call span failed', err);
    } finally {
      span.end();
    }
  }

  private setEndAttributes(
    span: Span,
    responseModel: string | undefined,
    estimated: boolean,
    usage: NormalizedUsage | undefined,
    costUsd: number,
    priced: boolean,
  ): void {
    if (responseModel) span.setAttribute(ATTR.responseModel, responseModel);
    const tier = this.responseTier();
    if (tier) span.setAttribute(ATTR.responseServiceTier, tier);
    if (usage !== undefined) {
      span.setAttribute(ATTR.inputTokens, inputTokens(usage));
      span.setAttribute(ATTR.outputTokens, outputTokens(usage));
      if (usage.cacheRead > 0) span.setAttribute(ATTR.cacheReadTokens, usage.cacheRead);
      // Opted in to the latest conventions, cache writes have their new name (below).
      const latest = this.init.accountant.genAiLatest;
      if (usage.cacheWrite > 0 && !latest)
        span.setAttribute(ATTR.cacheWriteTokens, usage.cacheWrite);
      if (usage.reasoning > 0) span.setAttribute(ATTR.reasoningTokens, usage.reasoning);
      span.setAttribute(ATTR.usageEstimated, estimated);
      span.setAttribute(ATTR.costUsd, costUsd);
      span.setAttribute(ATTR.priced, priced);
    }
  }
}

/** `error.type`: the SDK's error class (RateLimitError, APIConnectionTimeoutError, …) or the HTTP status. */
export function errorTypeOf(err: unknown): string {
  if (err && typeof err === 'object') {
    const name = (err as { constructor?: { name?: string } }).constructor?.name;
    if (name && name !== 'Error' && name !== 'Object') return name;
    const status = (err as { status?: unknown }).status;
    if (typeof status === 'number') return String(status);
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return '_OTHER';
}
