import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  type Attributes,
  context,
  diag,
  type Meter,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import {
  InstrumentationBase,
  type InstrumentationConfig,
  InstrumentationNodeModuleDefinition,
} from '@opentelemetry/instrumentation';
import type { Accountant } from '../accounting/accountant.js';
import { ATTR } from '../accounting/span-attributes.js';
import { markCovered } from '../accounting/span-registry.js';
import {
  readAttributionHeaders,
  readDefaultAttributionHeaders,
  withoutDefaultHeaders,
} from '../attribution/headers.js';
import { resolveTags } from '../attribution/resolve.js';
import { TAG_ATTRIBUTES, TAG_NAMES } from '../attribution/tags.js';
import type { ResolvedConfig } from '../config/resolved-config.js';
import type { BlockedCallError } from '../errors/blocked-call-error.js';
import type { Admission, AdmissionResult, FuseBoard } from '../fuses/fuse-board.js';
import type { ApiPromiseLike, SdkResource } from '../internal-types.js';
import type { PricingIssues } from '../metrics/pricing-issues.js';
import type { ProviderCostTotals } from '../metrics/pricing-metrics.js';
import { createProviderResolver, type ProviderInfo } from '../pricing/providers.js';
import type { Tags, TokenfuseOptions } from '../types.js';
import { PACKAGE_NAME, PACKAGE_VERSION } from '../version.js';
import {
  type ApiAdapter,
  chatAdapter,
  embeddingsAdapter,
  estimateRequest,
  responsesAdapter,
} from './api-adapters.js';
import { BatchApi } from './batch-api.js';
import { LlmCall } from './llm-call.js';

/** Versions of `openai` whose shapes tokenfuse knows. */
export const SUPPORTED_OPENAI_VERSIONS = ['>=7.0.0 <8'];

/** Options of {@link TokenfuseInstrumentation}: OpenTelemetry's, plus tokenfuse's own. */
export interface TokenfuseInstrumentationConfig extends InstrumentationConfig {
  /** tokenfuse configuration (what `tokenfuse.config.yaml` holds). */
  tokenfuse?: TokenfuseOptions;
}

/**
 * @internal what the instrumentation is given, as OpenTelemetry instrumentations are
 * given their providers: the composition (`src/compose.ts`) builds it.
 */
export interface InstrumentationParts {
  config: ResolvedConfig;
  accountant: Accountant;
  /** Admission and settlement of calls against the budgets. */
  board: FuseBoard;
  /** Pricing and attribution fallbacks, counted by reason. */
  issues: PricingIssues;
  /** Provider-reported costs beside the catalog's, for `tokenfuse_cost_provider_*`. */
  providerCosts: ProviderCostTotals;
  /** Claims a batch result once per fleet (shared Redis ledger only). */
  claimOnce?: ((key: string) => Promise<boolean>) | undefined;
  /** Closes the connections the parts opened for the instrumentation. */
  closeConnections(): Promise<void>;
  /** Points every metric of these parts at `meter`. */
  setMeter(meter: Meter): void;
}

type AnyFunction = (this: any, ...args: any[]) => any;

/** A call ready to be sent (or blocked), with the context to send it in. */
interface StartedCall {
  call: LlmCall | undefined;
  callArgs: any[];
  ctx: ReturnType<typeof context.active>;
  blocked: BlockedCallError | undefined;
}

/** What `startCall` knows before admission. */
interface PreparedCall {
  adapter: ApiAdapter;
  args: any[];
  body: any;
  options: unknown;
  requestOptions: unknown;
  rest: any[];
  prepared: { body: any; injectedUsage: boolean };
  tags: Tags;
  provider: ProviderInfo;
  model: string;
  attributes: Attributes;
  active: ReturnType<typeof context.active>;
  startedAt: number;
  /** Wall-clock start, for prices in force at the call's start (`performance.now()` is no date). */
  startTime: Date;
}

/**
 * @internal OpenTelemetry instrumentation of the `openai` SDK, given its parts (budgets,
 * accountant, config) the way OpenTelemetry instrumentations are given providers. Users
 * construct {@link TokenfuseInstrumentation} (src/compose.ts), which composes the parts.
 */
export class OpenAIInstrumentation extends InstrumentationBase<TokenfuseInstrumentationConfig> {
  private readonly parts: InstrumentationParts;
  private readonly providerOf: (baseURL: string | undefined) => ProviderInfo;
  private readonly fingerprints = new WeakMap<object, string>();
  private readonly batchApi: BatchApi;
  /** The SDK's APIPromise, for rejecting blocked calls the way the SDK rejects its own. */
  private apiPromiseClass:
    | (new (
        client: unknown,
        responsePromise: Promise<never>,
        parseResponse?: (client: unknown, props: unknown) => unknown,
      ) => unknown)
    | undefined;

  constructor(config: TokenfuseInstrumentationConfig, parts: InstrumentationParts) {
    super(PACKAGE_NAME, PACKAGE_VERSION, config);
    this.parts = parts;
    this.providerOf = createProviderResolver(this.parts.config.providers);
    this.batchApi = new BatchApi({
      config: this.parts.config,
      accountant: this.parts.accountant,
      issues: this.parts.issues,
      tracer: () => this.tracer,
      providerOf: this.providerOf,
      claimOnce: this.parts.claimOnce,
      board: this.parts.board,
      apiPromiseClass: () => this.apiPromiseClass,
    });
    // The base constructor ran _updateMetricInstruments before `parts` existed.
    this.parts.setMeter(this.meter);
  }

  override enable(): void {
    super.enable();
    // undefined while the base constructor enables, before `parts` exists
    this.parts?.accountant.countBoundedEstimates(true);
  }

  override disable(): void {
    super.disable();
    this.parts?.accountant.countBoundedEstimates(false);
  }

  /** Closes the connection that marks batch results as counted (Redis ledger only). */
  async closeConnections(): Promise<void> {
    await this.parts.closeConnections();
  }

  /** The accountant that prices and counts this instrumentation's calls. */
  get accountant(): Accountant {
    return this.parts.accountant;
  }

  protected override _updateMetricInstruments(): void {
    // Called by the base class whenever the meter provider changes.
    this.parts?.setMeter(this.meter);
  }

  protected init() {
    return [
      new InstrumentationNodeModuleDefinition(
        'openai',
        SUPPORTED_OPENAI_VERSIONS,
        (moduleExports) => {
          const OpenAI = openAIClass(moduleExports);
          if (!OpenAI) {
            diag.warn(
              'tokenfuse: the openai module has no OpenAI class; calls are not instrumented',
            );
            return moduleExports;
          }
          this.apiPromiseClass = apiPromiseClass(moduleExports);
          this.wrapMethod(OpenAI.Chat?.Completions?.prototype, chatAdapter);
          this.wrapMethod(OpenAI.Responses?.prototype, responsesAdapter);
          this.wrapMethod(OpenAI.Embeddings?.prototype, embeddingsAdapter);
          this.wrapBatchApi(OpenAI);
          return moduleExports;
        },
        (moduleExports) => {
          const OpenAI = openAIClass(moduleExports);
          if (!OpenAI) return;
          for (const proto of [
            OpenAI.Chat?.Completions?.prototype,
            OpenAI.Responses?.prototype,
            OpenAI.Embeddings?.prototype,
          ]) {
            if (proto) this._unwrap(proto, 'create');
          }
          if (OpenAI.Batches?.prototype) this._unwrap(OpenAI.Batches.prototype, 'create');
          if (OpenAI.Files?.prototype) this._unwrap(OpenAI.Files.prototype, 'content');
        },
      ),
    ];
  }

  private wrapMethod(proto: object | undefined, adapter: ApiAdapter): void {
    if (!proto) {
      diag.warn(`tokenfuse: openai has no ${adapter.api}.create to instrument`);
      return;
    }
    this._wrap(proto as Record<string, AnyFunction>, 'create', (original: AnyFunction) =>
      this.patchedCreate(original, adapter),
    );
  }

  /** `batches.create` stamps attribution; `files.content` counts batch results. */
  private wrapBatchApi(OpenAI: any): void {
    const enabled = () => this.isEnabled();
    const batches = OpenAI.Batches?.prototype;
    const files = OpenAI.Files?.prototype;
    if (!batches || !files) {
      diag.warn('tokenfuse: openai has no batches.create / files.content; batches are not counted');
      return;
    }
    this._wrap(batches, 'create', (original: AnyFunction) =>
      this.batchApi.patchCreate(original, enabled),
    );
    this._wrap(files, 'content', (original: AnyFunction) =>
      this.batchApi.patchContent(original, enabled),
    );
  }

  /** The wrapper of one SDK method. Our failures never reach the caller. */
  private patchedCreate(original: AnyFunction, adapter: ApiAdapter): AnyFunction {
    const self = this;
    return function tokenfuseCreate(this: SdkResource, ...args: any[]) {
      if (!self.isEnabled()) return original.apply(this, args);
      let started: StartedCall | Promise<StartedCall>;
      try {
        started = self.startCall(this, adapter, args);
      } catch (err) {
        diag.error(
          `tokenfuse: instrumenting ${adapter.api}.create failed; calling it untouched`,
          err,
        );
        return original.apply(this, args);
      }
      if (started instanceof Promise)
        return self.deferredCall(this, original, adapter, args, started);
      return self.sendCall(this, original, adapter, started, undefined);
    };
  }

  /** Sends an admitted call (hooking its APIPromise), or returns a blocked call's rejection. */
  private sendCall(
    resource: SdkResource,
    original: AnyFunction,
    adapter: ApiAdapter,
    { call, callArgs, ctx, blocked }: StartedCall,
    callerView: ApiPromiseLike | undefined,
  ): unknown {
    if (blocked !== undefined) return this.rejectedCall(resource, blocked);
    let result: unknown;
    try {
      result = context.with(ctx, () => original.apply(resource, callArgs));
    } catch (err) {
      call?.fail(err);
      throw err;
    }
    if (call === undefined) return result;
    try {
      if (isApiPromise(result)) call.attach(result, callerView ?? result);
      else call.fail(new Error(`${adapter.api}.create returned no APIPromise`));
    } catch (err) {
      diag.error('tokenfuse: hooking the SDK promise failed; the call itself is unaffected', err);
    }
    return result;
  }

  /**
   * A call whose admission answers later (the shared Redis ledger): returns the
   * SDK's own APIPromise class at once, and sends the request only once admitted.
   * Its response is the real call's, parsed by the real call's (hooked) parser, so
   * `await`, `.withResponse()`, `.asResponse()`, `parse()` helpers and streams work
   * as with the SDK's own; a blocked call rejects with the block error and sends
   * nothing.
   */
  private deferredCall(
    resource: SdkResource,
    original: AnyFunction,
    adapter: ApiAdapter,
    args: any[],
    started: Promise<StartedCall>,
  ): unknown {
    const APIPromise = this.apiPromiseClass;
    let inner: ApiPromiseLike | undefined;
    let outer: ApiPromiseLike | undefined;
    const responsePromise = started
      .then(undefined, (err: unknown): StartedCall => {
        // Our own failure: send the call untouched.
        diag.error(
          `tokenfuse: admitting a ${adapter.api}.create call failed; calling it untouched`,
          err,
        );
        return { call: undefined, callArgs: args, ctx: context.active(), blocked: undefined };
      })
      .then((ready) => {
        const result = this.sendCall(resource, original, adapter, ready, outer);
        if (!isApiPromise(result)) return result;
        inner = result;
        return result.responsePromise;
      });
    if (!APIPromise) {
      // An SDK that does not export its APIPromise: a plain promise of the result.
      return responsePromise.then((value) => inner ?? value);
    }
    outer = new APIPromise(
      resource?._client,
      responsePromise as Promise<never>,
      (client: unknown, props: unknown) => inner!.parseResponse(client, props),
    ) as unknown as ApiPromiseLike;
    const view = outer;
    // `.asResponse()` goes to the real call, whose hook reads usage from the raw body
    // unless the caller parses too (`withResponse()` does, and asks to parse first).
    outer.asResponse = function tokenfuseDeferredAsResponse() {
      return responsePromise.then(() =>
        inner === undefined ? responsePromise : inner.asResponse(),
      );
    };
    return view;
  }

  /**
   * Everything before the request: tags, attributes, admission, span. Synchronous
   * unless admission answers later (the shared ledger), then a promise of the same.
   */
  private startCall(
    resource: SdkResource,
    adapter: ApiAdapter,
    args: any[],
  ): StartedCall | Promise<StartedCall> {
    const { config } = this.parts;
    const startedAt = performance.now();
    const startTime = new Date();
    const [body, options, ...rest] = args;

    let requestOptions = options;
    let headerTags: ReturnType<typeof readAttributionHeaders>['tags'];
    if (config.attribution.headers && (options == null || isPlainOptions(options))) {
      const strip = config.attribution.stripHeaders;
      // Per-call headers win over the client's defaultHeaders, tag by tag.
      const defaults = readDefaultAttributionHeaders(resource?._client);
      const read =
        options?.headers != null ? readAttributionHeaders(options.headers, strip) : undefined;
      headerTags = defaults.tags === undefined ? read?.tags : { ...defaults.tags, ...read?.tags };
      let headers = read?.stripped ?? options?.headers;
      if (strip && defaults.present.length > 0)
        headers = withoutDefaultHeaders(headers, defaults.present);
      if (headers !== options?.headers) requestOptions = { ...options, headers };
    }

    const active = context.active();
    const tags = resolveTags(
      config.attribution.defaults,
      config.attribution.baggage ? active : undefined,
      headerTags,
    );
    const client = resource?._client;
    const provider = this.providerOf(client?.baseURL);
    const model = typeof body?.model === 'string' ? body.model : 'unknown';
    const prepared = adapter.prepareBody(body);

    const attributes: Attributes = {
      [ATTR.operationName]: adapter.operation,
      [ATTR.providerName]: provider.semconvName,
      [ATTR.requestModel]: model,
      [ATTR.api]: adapter.api,
      [ATTR.provider]: provider.id,
    };
    if (provider.serverAddress) attributes[ATTR.serverAddress] = provider.serverAddress;
    if (provider.serverPort) attributes[ATTR.serverPort] = provider.serverPort;
    // The limit as the caller wrote it (per choice), not the bound the admission reserves.
    const maxTokens = [body?.max_completion_tokens, body?.max_tokens, body?.max_output_tokens].find(
      (v) => typeof v === 'number' && Number.isFinite(v),
    );
    if (adapter.operation !== 'embeddings' && maxTokens)
      attributes[ATTR.requestMaxTokens] = maxTokens;
    if (typeof body?.temperature === 'number')
      attributes[ATTR.requestTemperature] = body.temperature;
    if (typeof body?.service_tier === 'string')
      attributes[ATTR.requestServiceTier] = body.service_tier;
    for (const name of TAG_NAMES) {
      const value = tags[name];
      if (value !== undefined) attributes[TAG_ATTRIBUTES[name]] = value;
    }
    const fingerprint = client ? this.fingerprint(client) : undefined;
    if (fingerprint) attributes[ATTR.apiKeyFingerprint] = fingerprint;
    if (config.content.capture) attributes[ATTR.inputMessages] = adapter.inputText(body);

    const p: PreparedCall = {
      adapter,
      args,
      body,
      options,
      requestOptions,
      rest,
      prepared,
      tags,
      provider,
      model,
      attributes,
      active,
      startedAt,
      startTime,
    };
    if (!this.parts.board.active) return this.finishStart(p, undefined, false);
    const result = this.parts.board.admit({
      tags,
      provider: provider.id,
      model,
      ...estimateRequest(adapter, prepared.body),
    });
    if (result instanceof Promise) return result.then((r) => this.finishStart(p, r, true));
    return this.finishStart(p, result, false);
  }

  /** The span and the call, once admission has answered. */
  private finishStart(
    p: PreparedCall,
    result: AdmissionResult | undefined,
    deferred: boolean,
  ): StartedCall {
    const { adapter, args, body, options, requestOptions, rest, prepared } = p;
    const { tags, provider, model, attributes, active, startedAt, startTime } = p;
    const { config, accountant } = this.parts;
    let admission: Admission | undefined;
    let blocked: BlockedCallError | undefined;
    if (result !== undefined) {
      if ('blocked' in result) {
        blocked = result.blocked;
        if (result.wouldBlock.length > 0) attributes[ATTR.wouldBlock] = result.wouldBlock;
      } else {
        admission = result.admitted;
        if (admission.wouldBlock.length > 0) attributes[ATTR.wouldBlock] = admission.wouldBlock;
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

    const span = this.tracer.startSpan(
      `${adapter.operation} ${model}`,
      {
        kind: SpanKind.CLIENT,
        attributes,
        // Waiting for the shared ledger's answer is part of the call.
        ...(deferred ? { startTime: performance.timeOrigin + startedAt } : {}),
      },
      active,
    );
    if (blocked !== undefined) {
      this.recordBlocked(span, blocked, { adapter, tags, provider, model, startedAt });
      return { call: undefined, callArgs: args, ctx: trace.setSpan(active, span), blocked };
    }
    const ctx = trace.setSpan(active, span);
    const call = new LlmCall({
      adapter,
      body: prepared.body,
      injectedUsage: prepared.injectedUsage,
      span,
      ctx,
      tags,
      provider: provider.id,
      providerName: provider.semconvName,
      model,
      accountant,
      captureContent: config.content.capture,
      startedAt,
      startTime,
      admission,
      board: this.parts.board,
      requestServiceTier:
        typeof body?.service_tier === 'string' ? (body.service_tier as string) : undefined,
      providerCosts: this.parts.providerCosts,
    });
    const callArgs =
      prepared.body === body && requestOptions === options
        ? args
        : [prepared.body, requestOptions, ...rest];
    return { call, callArgs, ctx, blocked: undefined };
  }

  /**
   * What a blocked call returns: the SDK's own APIPromise class, rejected with our
   * error, so `await`, `.withResponse()`, `.asResponse()` and `parse()` helpers all
   * reject alike and no request is made.
   */
  private rejectedCall(resource: SdkResource, err: BlockedCallError): unknown {
    const rejected = Promise.reject(err);
    const APIPromise = this.apiPromiseClass;
    return APIPromise ? new APIPromise(resource?._client, rejected) : rejected;
  }

  /** A blocked call: its span says which budget and why; it counts as outcome="blocked". */
  private recordBlocked(
    span: Span,
    err: BlockedCallError,
    call: {
      adapter: ApiAdapter;
      tags: Tags;
      provider: ProviderInfo;
      model: string;
      startedAt: number;
    },
  ): void {
    try {
      span.setAttribute(ATTR.budgetName, err.budget);
      span.setAttribute(ATTR.blockReason, err.reason);
      span.setAttribute(ATTR.errorType, err.name);
      span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
      this.parts.accountant.account({
        operation: call.adapter.operation,
        provider: call.provider.id,
        providerName: call.provider.semconvName,
        model: call.model,
        tags: call.tags,
        usage: undefined,
        estimated: false,
        outcome: 'blocked',
        errorType: err.name,
        budget: err.budget,
        durationS: (performance.now() - call.startedAt) / 1000,
      });
    } finally {
      span.end();
    }
  }

  /** A short, non-reversible id of the client's API key, cached per client. */
  private fingerprint(client: object): string | undefined {
    let fp = this.fingerprints.get(client);
    if (fp === undefined) {
      const key = (client as { apiKey?: unknown }).apiKey;
      if (typeof key !== 'string' || key === '') return undefined;
      fp = createHash('sha256').update(key).digest('hex').slice(0, 8);
      this.fingerprints.set(client, fp);
    }
    return fp;
  }
}

function openAIClass(moduleExports: any): any {
  const mod =
    moduleExports?.[Symbol.toStringTag] === 'Module'
      ? (moduleExports.default ?? moduleExports)
      : moduleExports;
  return mod?.OpenAI ?? (typeof mod === 'function' ? mod : undefined);
}

function apiPromiseClass(moduleExports: any): any {
  const mod =
    moduleExports?.[Symbol.toStringTag] === 'Module'
      ? (moduleExports.default ?? moduleExports)
      : moduleExports;
  const candidate = moduleExports?.APIPromise ?? mod?.APIPromise;
  return typeof candidate === 'function' ? candidate : undefined;
}

function isPlainOptions(options: unknown): options is { headers?: unknown } {
  return (
    options !== null &&
    typeof options === 'object' &&
    typeof (options as { then?: unknown }).then !== 'function'
  );
}

function isApiPromise(value: unknown): value is ApiPromiseLike {
  return (
    value instanceof Promise &&
    typeof (value as ApiPromiseLike).parseResponse === 'function' &&
    (value as ApiPromiseLike).responsePromise instanceof Promise
  );
}
