import { type Context, diag, SpanStatusCode, trace } from '@opentelemetry/api';
import { tagsFromContext } from '../attribution/context.js';
import { TAG_ATTRIBUTES, TAG_NAMES } from '../attribution/tags.js';
import type { ResolvedConfig } from '../config/resolved-config.js';
import type { FuseBoard } from '../fuses/fuse-board.js';
import { internalError } from '../internal-errors.js';
import type { PricingIssues } from '../metrics/pricing-issues.js';
import {
  createProviderResolver,
  genAiProviderName,
  type ProviderInfo,
} from '../pricing/providers.js';
import { fromGenAiAttributes, totalTokens } from '../pricing/usage.js';
import type { Tags } from '../types.js';
import type { Accountant } from './accountant.js';
import { ATTR } from './span-attributes.js';
import { isCovered, isOurs, markCovered } from './span-registry.js';
import type { UsageRecord } from './usage-record.js';

/** The parts of an SDK span the processor reads (structural, so any SDK 2.x/3.x span fits). */
interface SpanLike {
  attributes: Record<string, unknown>;
  instrumentationScope?: { name: string };
  status?: { code: number };
  duration?: [number, number];
  startTime?: [number, number];
  resource?: { attributes: Record<string, unknown> };
  setAttribute?(key: string, value: unknown): unknown;
}

// Semconv provider names of other instrumentations → our provider ids.
const PROVIDER_IDS: Record<string, string> = {
  openai: 'openai',
  'azure.ai.openai': 'azure',
  'az.ai.openai': 'azure',
  'azure.ai.inference': 'azure',
  deepseek: 'deepseek',
  'gcp.gemini': 'google',
  'gcp.vertex_ai': 'google',
  'gcp.gen_ai': 'google',
  anthropic: 'anthropic',
  groq: 'groq',
  mistral_ai: 'mistral',
  x_ai: 'xai',
  perplexity: 'perplexity',
  'aws.bedrock': 'bedrock',
};

// The Vercel AI SDK's telemetry names the system `<provider>.<api>` (`openai.chat`,
// `anthropic.messages`, `google.generative-ai`): its provider prefixes → our provider ids.
const AI_SDK_PREFIXES: Record<string, string> = {
  openai: 'openai',
  anthropic: 'anthropic',
  google: 'google',
  'google-vertex': 'google',
  'amazon-bedrock': 'bedrock',
  'azure-openai': 'azure',
  azure: 'azure',
  mistral: 'mistral',
  xai: 'xai',
  groq: 'groq',
  deepseek: 'deepseek',
  togetherai: 'together',
  perplexity: 'perplexity',
};

/** Our provider id for a span's semconv provider name (or an AI SDK `<provider>.<api>`). */
function providerIdOf(name: string): string | undefined {
  return PROVIDER_IDS[name] ?? AI_SDK_PREFIXES[name.split('.')[0] as string];
}

/** The resource's environment: the lowest source of the `environment` tag, as for our own calls. */
const ENVIRONMENT_ATTR = 'deployment.environment.name';

/**
 * Prices and counts GenAI spans made by other instrumentations (anything following
 * the OpenTelemetry GenAI semantic conventions, e.g. `@opentelemetry/instrumentation-openai`),
 * writes `tokenfuse.cost.usd` on them, and records their spend in the budgets they
 * match (`tokenfuse_requests_total{outcome="observed"}`: counted, never blocked, as
 * the call was sent before its span ended). tokenfuse's own spans are accounted by
 * the instrumentation itself (sampled or not), so this processor skips them, and
 * also skips a foreign span that wraps or is wrapped by one of ours: same call,
 * accounted and settled once, by the wrapper.
 *
 * A span is attributed as our own calls are: config defaults (the resource's
 * `deployment.environment.name` below them), then the baggage of the context it
 * started in, then its `tokenfuse.*` tag attributes (as a call's headers).
 *
 * Only recording spans reach a span processor: a span the sampler drops is never
 * seen here (nor can it be counted). Calls made through tokenfuse's own
 * instrumentation are exact regardless.
 */
export class CostSpanProcessor {
  private readonly tagsAtStart = new WeakMap<object, Tags>();
  private readonly accounted = new WeakSet<object>();
  /** A span without usage said once in the log (then counted only). */
  private saidWithoutUsage = false;
  private readonly providerOf: (baseURL: string | undefined) => ProviderInfo;

  /**
   * @param board where observed spend is settled; without one (a processor built
   *   apart from `createTokenfuse()`), spans are priced and counted only.
   * @param issues where a GenAI span with nothing to price is counted
   *   (`tokenfuse_pricing_issues_total{reason="span_without_usage"}`).
   */
  constructor(
    private readonly accountant: Accountant,
    private readonly config: ResolvedConfig,
    private readonly board?: FuseBoard,
    private readonly issues?: PricingIssues,
  ) {
    this.providerOf = createProviderResolver(config.providers);
  }

  onStart(span: SpanLike, parentContext: Context): void {
    try {
      // Our own spans are accounted by the instrumentation itself. A span may take its
      // GenAI attributes after it starts: what is read here is read for every span.
      if (isOurs(span)) return;
      const parent = trace.getSpan(parentContext);
      if (parent && isOurs(parent)) {
        markCovered(span as never);
        return;
      }
      const tags = this.config.attribution.baggage ? tagsFromContext(parentContext) : undefined;
      if (tags) this.tagsAtStart.set(span, tags);
    } catch (err) {
      internalError('span_processor', 'CostSpanProcessor.onStart failed', err);
    }
  }

  /** Runs while the span can still take attributes: the cost goes on the span itself. */
  onEnding(span: SpanLike): void {
    this.process(span, true);
  }

  onEnd(span: SpanLike): void {
    // SDKs without onEnding land here; with it, the span was handled already.
    this.process(span, false);
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }

  private process(span: SpanLike, writable: boolean): void {
    try {
      if (isOurs(span)) return;
      if (this.accounted.has(span) || isCovered(span) || !isGenAi(span)) return;
      const record = this.toRecord(span);
      if (record === undefined) {
        this.withoutUsage(span);
        return;
      }
      this.accounted.add(span);
      const { costUsd, priced } = this.accountant.account(record);
      // The same decision as the metrics: a span counted here is settled here, once.
      this.board?.observe(record, {
        tokens: record.usage ? totalTokens(record.usage) : 0,
        usd: costUsd,
      });
      if (writable && span.setAttribute) {
        span.setAttribute(ATTR.costUsd, costUsd);
        span.setAttribute(ATTR.priced, priced);
        if (record.estimated) span.setAttribute(ATTR.usageEstimated, true);
      }
    } catch (err) {
      internalError('span_processor', 'CostSpanProcessor failed on a span', err);
    }
  }

  /**
   * A GenAI span that ended with neither usage nor an error: the call happened (or was
   * described) but nothing says what it used. Never a silent zero: counted, said once.
   */
  private withoutUsage(span: SpanLike): void {
    if (this.accounted.has(span)) return;
    this.accounted.add(span);
    this.issues?.note('span_without_usage');
    if (this.saidWithoutUsage) return;
    this.saidWithoutUsage = true;
    const scope = (span as { instrumentationScope?: { name?: string } }).instrumentationScope;
    diag.warn(
      `tokenfuse: a GenAI span from ${scope?.name ?? 'another instrumentation'} ended with no ` +
        'gen_ai.usage.* attributes and no error status: its call is not counted or priced ' +
        '(tokenfuse_pricing_issues_total{reason="span_without_usage"} counts such spans; said once)',
    );
  }

  private toRecord(span: SpanLike): UsageRecord | undefined {
    const a = span.attributes;
    const usage = fromGenAiAttributes(a);
    const failed = span.status?.code === SpanStatusCode.ERROR;
    if (usage === undefined && !failed) return undefined;

    const providerAttr = str(a[ATTR.providerName]) ?? str(a['gen_ai.system']);
    const host = str(a[ATTR.serverAddress]);
    const byHost = host
      ? this.providerOf(`https://${host}${a[ATTR.serverPort] ? `:${a[ATTR.serverPort]}` : ''}`)
      : undefined;
    const known = providerAttr === undefined ? undefined : providerIdOf(providerAttr);
    const provider =
      byHost && byHost.id !== 'openai_compatible'
        ? byHost.id
        : (known ?? providerAttr ?? 'unknown');

    const environment = str(span.resource?.attributes[ENVIRONMENT_ATTR]);
    const tags: Tags = {
      ...(environment ? { environment } : {}),
      ...this.config.attribution.defaults,
      ...this.tagsAtStart.get(span),
    };
    for (const name of TAG_NAMES) {
      const value = str(a[TAG_ATTRIBUTES[name]]);
      if (value) tags[name] = value;
    }
    const duration = span.duration ? span.duration[0] + span.duration[1] / 1e9 : 0;
    return {
      operation: str(a[ATTR.operationName]) ?? 'chat',
      provider,
      // A semconv name stays as the span gave it; an AI SDK `openai.chat` becomes `openai`.
      providerName:
        providerAttr !== undefined && PROVIDER_IDS[providerAttr] === undefined && known
          ? genAiProviderName(known)
          : (providerAttr ?? provider),
      model: str(a[ATTR.requestModel]) ?? str(a[ATTR.responseModel]) ?? 'unknown',
      responseModel: str(a[ATTR.responseModel]),
      tags,
      usage,
      // Rejected usage fields count as 0: not what the provider billed.
      estimated: usage?.invalid !== undefined,
      outcome: failed ? 'error' : 'observed',
      errorType: failed ? (str(a[ATTR.errorType]) ?? '_OTHER') : undefined,
      durationS: duration,
      startedAt: span.startTime
        ? new Date(span.startTime[0] * 1000 + span.startTime[1] / 1e6)
        : undefined,
      // Semconv's tier attributes, current names then the deprecated `gen_ai.openai.*`.
      serviceTier:
        str(a[ATTR.responseServiceTier]) ??
        str(a['gen_ai.openai.response.service_tier']) ??
        str(a[ATTR.requestServiceTier]) ??
        str(a['gen_ai.openai.request.service_tier']),
    };
  }
}

function isGenAi(span: SpanLike): boolean {
  const a = span.attributes;
  return (
    a !== undefined && (a[ATTR.operationName] !== undefined || a['gen_ai.system'] !== undefined)
  );
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
