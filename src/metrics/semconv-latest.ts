/**
 * The GenAI semantic conventions' stability opt-in, and the metrics it adds.
 *
 * OpenTelemetry's GenAI conventions are in development and still renaming things.
 * Instrumentations keep emitting the conventions they shipped with, and emit the
 * latest experimental ones when `OTEL_SEMCONV_STABILITY_OPT_IN` (a comma-separated
 * list shared by every instrumentation in the process) contains
 * `gen_ai_latest_experimental`. tokenfuse reads it once, at start.
 *
 * With the opt-in, tokenfuse records these beside (not instead of) the histograms its
 * dashboards and alert rules read, as merged in open-telemetry/semantic-conventions-genai:
 * - PR #374: five token counters `gen_ai.client.inference.usage.*`, by
 *   `gen_ai.token.modality`, and two per-operation histograms
 *   `gen_ai.client.inference.operation.{input,output}_tokens`;
 * - PR #536: both recorded for every inference operation, failed ones included (0 and
 *   modality `unknown` without usage; `error.type` on the histograms);
 * - PR #521: `gen_ai.client.inference.duration` and
 *   `gen_ai.client.inference.time_to_first_chunk` for inference operations.
 */
import type { Attributes, Counter, Histogram, Meter } from '@opentelemetry/api';
import type { NormalizedUsage } from '../pricing/usage.js';
import { SEMCONV_LATEST_HELP, SEMCONV_LATEST_METRIC } from './contract-semconv-latest.js';
import { DURATION_BUCKETS, TOKEN_BUCKETS } from './histogram-points.js';

/** The environment variable OpenTelemetry reads stability opt-ins from. */
export const SEMCONV_OPT_IN_VARIABLE = 'OTEL_SEMCONV_STABILITY_OPT_IN';
/** The opt-in value for the latest experimental GenAI conventions. */
export const GEN_AI_LATEST_EXPERIMENTAL = 'gen_ai_latest_experimental';

/**
 * Whether `value` (the variable's value) opts in to the latest GenAI conventions.
 * Other entries (`http`, `database/dup`, …) belong to other instrumentations: ignored.
 */
export function genAiLatestOptedIn(value: string | undefined): boolean {
  if (value === undefined) return false;
  return value
    .split(',')
    .some((entry) => entry.trim().toLowerCase() === GEN_AI_LATEST_EXPERIMENTAL);
}

/**
 * Operations the conventions call inference (`gen_ai.client.inference`); embeddings and
 * other operations have conventions of their own and get none of these metrics.
 */
const INFERENCE_OPERATIONS: ReadonlySet<string> = new Set([
  'chat',
  'generate_content',
  'text_completion',
]);

/** `gen_ai.token.modality` values tokenfuse can tell apart. */
type Modality = 'audio' | 'unknown';

/** One accounted call, as these metrics need it. */
export interface LatestCall {
  operation: string;
  usage: NormalizedUsage | undefined;
  durationS: number;
  timeToFirstChunkS?: number | undefined;
  /** Batch API results have no call duration of their own. */
  batchId?: string | undefined;
}

/** The opt-in instruments, and the attribute sets they record with. */
export class LatestGenAiMetrics {
  private readonly usage: Record<
    'input' | 'output' | 'cacheRead' | 'cacheWrite' | 'reasoning',
    Counter
  >;
  private readonly operationInput: Histogram;
  private readonly operationOutput: Histogram;
  private readonly duration: Histogram;
  private readonly timeToFirstChunk: Histogram;
  /** Per series' semconv attributes (one object per series): the same with each modality. */
  private readonly byModality = new WeakMap<Attributes, Record<Modality, Attributes>>();

  constructor(meter: Meter) {
    const M = SEMCONV_LATEST_METRIC;
    const counter = (name: (typeof M)[keyof typeof M]) =>
      meter.createCounter(name, { description: SEMCONV_LATEST_HELP[name], unit: '{token}' });
    const histogram = (name: (typeof M)[keyof typeof M], unit: string, buckets: number[]) =>
      meter.createHistogram(name, {
        description: SEMCONV_LATEST_HELP[name],
        unit,
        advice: { explicitBucketBoundaries: buckets },
      });
    this.usage = {
      input: counter(M.usageInputTokens),
      output: counter(M.usageOutputTokens),
      cacheRead: counter(M.usageCacheReadTokens),
      cacheWrite: counter(M.usageCacheWriteTokens),
      reasoning: counter(M.usageReasoningTokens),
    };
    this.operationInput = histogram(M.operationInputTokens, '{token}', TOKEN_BUCKETS);
    this.operationOutput = histogram(M.operationOutputTokens, '{token}', TOKEN_BUCKETS);
    this.duration = histogram(M.duration, 's', DURATION_BUCKETS);
    this.timeToFirstChunk = histogram(M.timeToFirstChunk, 's', DURATION_BUCKETS);
  }

  /**
   * Records one call that reached its provider (not a blocked one). `semconv` is the
   * series' histogram attributes (operation, provider name, request model, tags), the
   * same object for every call of the series; `errorType` the call's bounded error type.
   */
  record(call: LatestCall, semconv: Attributes, errorType: string | undefined): void {
    if (!INFERENCE_OPERATIONS.has(call.operation)) return;
    const withError = errorType === undefined ? semconv : { ...semconv, 'error.type': errorType };
    if (call.batchId === undefined) {
      this.duration.record(call.durationS, withError);
      if (call.timeToFirstChunkS !== undefined)
        this.timeToFirstChunk.record(call.timeToFirstChunkS, semconv);
    }
    const u = call.usage;
    const modal = this.modalities(semconv);
    // Providers do not say which input is text and which image: all but the audio
    // they report apart is `unknown`, as the conventions ask.
    const input = u === undefined ? 0 : u.input + u.cacheRead + u.cacheWrite;
    const output = u?.output ?? 0;
    this.usage.input.add(input, modal.unknown);
    if (u?.inputAudio !== undefined) this.usage.input.add(u.inputAudio, modal.audio);
    this.usage.output.add(output, modal.unknown);
    if (u?.outputAudio !== undefined) this.usage.output.add(u.outputAudio, modal.audio);
    this.usage.cacheRead.add(u?.cacheRead ?? 0, modal.unknown);
    this.usage.cacheWrite.add(u?.cacheWrite ?? 0, modal.unknown);
    this.usage.reasoning.add(u?.reasoning ?? 0, modal.unknown);
    this.operationInput.record(input + (u?.inputAudio ?? 0), withError);
    this.operationOutput.record(output + (u?.outputAudio ?? 0), withError);
  }

  private modalities(semconv: Attributes): Record<Modality, Attributes> {
    let sets = this.byModality.get(semconv);
    if (sets === undefined) {
      sets = {
        audio: { ...semconv, 'gen_ai.token.modality': 'audio' },
        unknown: { ...semconv, 'gen_ai.token.modality': 'unknown' },
      };
      this.byModality.set(semconv, sets);
    }
    return sets;
  }
}
