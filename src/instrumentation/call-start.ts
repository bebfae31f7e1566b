/**
 * Everything before an instrumented call's request: its tags (config, context and
 * baggage, per-call headers), its admission against the budgets, and its span (with
 * the attributes `call-attributes.ts` writes); for any SDK, through the SDK's adapter.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  type Attributes,
  type Context,
  context,
  type Span,
  SpanKind,
  type SpanOptions,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { Accountant } from '../accounting/accountant.js';
import { ATTR } from '../accounting/span-attributes.js';
import { markCovered } from '../accounting/span-registry.js';
import { ApiKeyIds } from '../attribution/api-key.js';
import {
  readAttributionHeaders,
  readDefaultAttributionHeaders,
  withoutDefaultHeaders,
} from '../attribution/headers.js';
import { resolveTags } from '../attribution/resolve.js';
import { configuredName } from '../budgets/per-value.js';
import type { ResolvedConfig } from '../config/resolved-config.js';
import type { BlockedCallError } from '../errors/blocked-call-error.js';
import type { Admission, AdmissionResult, FuseBoard } from '../fuses/fuse-board.js';
import type { PricingIssues } from '../metrics/pricing-issues.js';
import type { ProviderCostTotals } from '../metrics/pricing-metrics.js';
import { OPENAI_COMPATIBLE, type ProviderInfo } from '../pricing/providers.js';
import type { Tags } from '../types.js';
import { StartAttributes, writeLaterAttributes } from './call-attributes.js';
import { LlmCall, type LlmCallInit } from './llm-call.js';
import {
  estimateRequest,
  type OperationAdapter,
  type SdkAdapter,
  type SdkPromises,
} from './sdk-adapter.js';

/** A call ready to be sent (or blocked), with the context to send it in. */
export interface StartedCall {
  call: LlmCall | undefined;
  callArgs: unknown[];
  ctx: Context;
  blocked: BlockedCallError | undefined;
}

/** One patched method of one loaded SDK. */
export interface CallSite {
  sdk: SdkAdapter;
  adapter: OperationAdapter;
  promises: SdkPromises;
}

/**
 * What `start` knows before admission, and the call's own state once started: one
 * object per call, filled in by `finishStart` and kept by the call (`LlmCallInit`).
 */
type PreparedCall = LlmCallInit;

/** What `finishStart` needs beside the call's own state, not kept by the call. */
interface SpanStart {
  args: unknown[];
  callArgs: unknown[];
  /** Sampling-relevant span attributes, given at the span's start. */
  attributes: StartAttributes;
  active: Context;
}

/*
 * Why `new` and not object literals for the objects `start` makes per call:
 * V8 tracks every object literal's allocation site, and when a scavenge finds
 * that most objects of a site survived it, it pretenures the site (allocates
 * its objects in old space from then on: slower to make, a write barrier on
 * every young value stored in them, a full GC to free them). Depending on what
 * else the process did first, V8 pretenured all three literals this function
 * had (the call, its start attributes and its later attributes): tokenfuse's
 * share of an Anthropic call's CPU profile doubled (15.3% against 7.6%), about
 * 9 µs a call, and the bench's figures moved with the order of its sections
 * (docs/performance.md, _s10: allocation-site pretenuring_). Objects made by
 * `new` have no allocation site, so they stay young and die young.
 */

/**
 * One call's `PreparedCall` (see above: not a literal). Every field from the start, so the
 * object keeps one shape as `finishStart` fills it.
 */
class CallState implements PreparedCall {
  // Set by finishStart, before the call sees them.
  span = undefined as unknown as Span;
  ctx: Context;
  admission: Admission | undefined = undefined;
  requestServiceTier: string | undefined = undefined;
  constructor(
    readonly adapter: OperationAdapter,
    readonly promises: SdkPromises,
    /** The body as the caller wrote it: what the request's span attributes are read from. */
    readonly requestBody: any,
    readonly body: any,
    readonly injectedUsage: boolean,
    active: Context,
    readonly tags: Tags,
    readonly provider: string,
    readonly providerName: string,
    readonly model: string,
    readonly accountant: Accountant,
    readonly captureContent: boolean,
    readonly startedAt: number,
    readonly startTime: number,
    readonly board: FuseBoard,
    readonly providerCosts: ProviderCostTotals,
    readonly defaultTags: Tags,
    readonly apiKeyFingerprint: string | undefined,
    readonly apiKeyId: string | undefined,
    readonly apiKeyName: string | undefined,
  ) {
    this.ctx = active;
  }
}

/** The parts a call is started with (the instrumentation's, see `InstrumentationParts`). */
export interface CallParts {
  config: ResolvedConfig;
  accountant: Accountant;
  board: FuseBoard;
  providerCosts: ProviderCostTotals;
  /** Pricing and attribution fallbacks, counted by reason (an adapter's `providerIssue`). */
  issues: PricingIssues;
}

/** Starts calls for the generic wrapper. */
export class CallStarter {
  private readonly fingerprints = new WeakMap<object, { key: string; fp: string }>();
  private readonly keyIds = new WeakMap<object, { key: string; id: string }>();
  private readonly apiKeys: ApiKeyIds;

  constructor(
    private readonly parts: CallParts,
    private readonly tracer: () => Tracer,
    private readonly providerOf: (
      baseURL: string | undefined,
      providerId?: string | undefined,
    ) => ProviderInfo,
  ) {
    const { apiKeys, budgets } = parts.config;
    this.apiKeys = new ApiKeyIds(
      apiKeys.secret,
      apiKeys.owners,
      apiKeys.owners.size > 0 || budgets.some((b) => b.per?.tags.includes('apiKey')),
    );
  }

  /**
   * Tags, attributes, admission, span. Synchronous unless admission answers later
   * (the shared ledger), then a promise of the same.
   */
  start(site: CallSite, thisArg: unknown, args: unknown[]): StartedCall | Promise<StartedCall> {
    const { config } = this.parts;
    const { sdk, adapter } = site;
    const startedAt = performance.now();
    // A number, not a Date: the Date is made only where a price needs one (see PriceBook).
    const startTime = Date.now();
    const request = sdk.readRequest(thisArg, args);
    const { body, client } = request;
    // The SDK's own span of this very call: the span processor must not price it too.
    if (request.sdkSpan !== undefined) markCovered(request.sdkSpan as Span);

    let headers = request.headers;
    let headerTags: ReturnType<typeof readAttributionHeaders>['tags'];
    if (config.attribution.headers && request.headersReadable) {
      const strip = config.attribution.stripHeaders;
      // Per-call headers win over the client's defaultHeaders, tag by tag.
      const defaults = readDefaultAttributionHeaders(client?.object);
      const read = headers != null ? readAttributionHeaders(headers, strip) : undefined;
      headerTags = defaults.tags === undefined ? read?.tags : { ...defaults.tags, ...read?.tags };
      headers = read?.stripped ?? headers;
      if (strip && defaults.present.length > 0)
        headers = withoutDefaultHeaders(headers, defaults.present);
    }

    const active = context.active();
    const apiKey = client ? this.keyId(client.object, client.apiKey) : undefined;
    const owner = apiKey === undefined ? undefined : this.apiKeys.owner(apiKey);
    // A shared key's owner stands in for the config defaults; context and headers still win.
    const tags = resolveTags(
      owner?.tags === undefined
        ? config.attribution.defaults
        : { ...config.attribution.defaults, ...owner.tags },
      config.attribution.baggage ? active : undefined,
      headerTags,
    );
    // A client with no base URL of its own (Bedrock: its endpoint is resolved inside the
    // AWS SDK) is the provider its adapter names, with no server address.
    const provider: ProviderInfo =
      request.provider ??
      (client !== undefined && client.baseURL === undefined && client.provider !== undefined
        ? client.provider
        : providerFor(this.providerOf(client?.baseURL), client?.provider));
    if (request.providerIssue !== undefined) this.parts.issues.note(request.providerIssue);
    const model = adapter.model(body) ?? 'unknown';
    const prepared = adapter.prepareBody(body);

    // Only the attributes a sampler may decide on (the conventions' sampling-relevant ones)
    // go in at the span's start: the SDK checks and copies start attributes twice (before and
    // after sampling); the rest are set once on the started span (`writeLaterAttributes`).
    const attributes = new StartAttributes(
      adapter.operation,
      provider.semconvName,
      model,
      provider.serverAddress || undefined,
      provider.serverPort || undefined,
    );

    const { accountant, board, providerCosts } = this.parts;
    const p = new CallState(
      adapter,
      site.promises,
      body,
      prepared.body,
      prepared.injectedUsage,
      active,
      tags,
      provider.id,
      provider.semconvName,
      model,
      accountant,
      config.content.capture,
      startedAt,
      startTime,
      board,
      providerCosts,
      config.attribution.defaults,
      client ? this.fingerprint(client.object, client.apiKey) : undefined,
      apiKey,
      owner?.name,
    );
    const callArgs =
      prepared.body === body && headers === request.headers
        ? args
        : sdk.rebuildArgs(args, prepared.body, headers);
    if (!board.active)
      return this.finishStart(p, undefined, false, args, callArgs, attributes, active);
    const result = board.admit({
      tags,
      apiKey,
      provider: provider.id,
      model,
      ...estimateRequest(adapter, prepared.body),
    });
    if (result instanceof Promise) {
      return this.finishLater(p, result, { args, callArgs, attributes, active });
    }
    return this.finishStart(p, result, false, args, callArgs, attributes, active);
  }

  /**
   * The shared ledger answers later. Apart from `start`, whose every call would otherwise
   * make a context for the closure's `p` and `this`.
   */
  private finishLater(
    p: CallState,
    result: Promise<AdmissionResult>,
    s: SpanStart,
  ): Promise<StartedCall> {
    return result.then((r) =>
      this.finishStart(p, r, true, s.args, s.callArgs, s.attributes, s.active),
    );
  }

  /** The span and the call, once admission has answered. */
  private finishStart(
    p: CallState,
    result: AdmissionResult | undefined,
    deferred: boolean,
    args: unknown[],
    callArgs: unknown[],
    attributes: StartAttributes,
    active: Context,
  ): StartedCall {
    const { adapter, body, model, startedAt } = p;
    let admission: Admission | undefined;
    let blocked: BlockedCallError | undefined;
    let wouldBlock: string[] | undefined;
    if (result !== undefined) {
      if ('blocked' in result) {
        blocked = result.blocked;
        wouldBlock = result.wouldBlock;
      } else {
        admission = result.admitted;
        wouldBlock = admission.wouldBlock;
      }
    }

    // Another GenAI instrumentation's span around ours describes the same call:
    // the span processor must not price it a second time.
    const parent = trace.getSpan(active);
    if (
      parent &&
      (parent as { attributes?: Attributes }).attributes?.[ATTR.operationName] !== undefined
    ) {
      markCovered(parent);
    }

    const options: SpanOptions = { kind: SpanKind.CLIENT, attributes };
    // Waiting for the shared ledger's answer is part of the call.
    if (deferred) options.startTime = performance.timeOrigin + startedAt;
    const span = this.tracer().startSpan(`${adapter.operation} ${model}`, options, active);
    // A span the sampler dropped keeps no attributes: none are worth reading.
    if (span.isRecording()) writeLaterAttributes(span, p, wouldBlock);
    if (blocked !== undefined) {
      this.recordBlocked(span, blocked, p);
      return { call: undefined, callArgs: args, ctx: trace.setSpan(active, span), blocked };
    }
    const ctx = trace.setSpan(active, span);
    p.span = span;
    p.ctx = ctx;
    p.admission = admission;
    p.requestServiceTier = adapter.requestServiceTier(body);
    return { call: new LlmCall(p), callArgs, ctx, blocked: undefined };
  }

  /** A blocked call: its span says which budget and why; it counts as outcome="blocked". */
  private recordBlocked(span: Span, err: BlockedCallError, call: PreparedCall): void {
    try {
      span.setAttribute(ATTR.budgetName, err.budget);
      span.setAttribute(ATTR.blockReason, err.reason);
      span.setAttribute(ATTR.errorType, err.name);
      span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
      this.parts.accountant.account({
        operation: call.adapter.operation,
        provider: call.provider,
        providerName: call.providerName,
        model: call.model,
        tags: call.tags,
        usage: undefined,
        estimated: false,
        outcome: 'blocked',
        errorType: err.name,
        // The configured budget, not `<budget>[<value>]`: no series per value.
        budget: configuredName(err.budget),
        durationS: (performance.now() - call.startedAt) / 1000,
      });
    } finally {
      span.end();
    }
  }

  /** The keyed id of the client's API key (`tokenfuse.api_key.id`), cached per client and key. */
  private keyId(client: object, key: unknown): string | undefined {
    if (typeof key !== 'string' || key === '') return undefined;
    const cached = this.keyIds.get(client);
    if (cached !== undefined && cached.key === key) return cached.id;
    const id = this.apiKeys.id(key);
    this.keyIds.set(client, { key, id });
    return id;
  }

  /**
   * A short, non-reversible id of the client's API key, cached per client and key: a client
   * whose key is replaced (rotated in place, or read afresh by the SDK) gets the new key's.
   */
  private fingerprint(client: object, key: unknown): string | undefined {
    if (typeof key !== 'string' || key === '') return undefined;
    const cached = this.fingerprints.get(client);
    if (cached !== undefined && cached.key === key) return cached.fp;
    const fp = createHash('sha256').update(key).digest('hex').slice(0, 8);
    this.fingerprints.set(client, { key, fp });
    return fp;
  }
}

/** The host's provider, or the SDK's own when no configuration or table knows the host. */
function providerFor(
  byHost: ProviderInfo,
  sdkProvider: { id: string; semconvName: string } | undefined,
): ProviderInfo {
  if (sdkProvider === undefined || byHost.id !== OPENAI_COMPATIBLE) return byHost;
  return { ...byHost, id: sdkProvider.id, semconvName: sdkProvider.semconvName };
}
