/**
 * The exporters `start()` (and so `tokenfuse/register`) sets up from the standard
 * OpenTelemetry SDK environment variables: `OTEL_METRICS_EXPORTER`,
 * `OTEL_TRACES_EXPORTER`, the OTLP protocol per signal, `OTEL_METRIC_EXPORT_INTERVAL` /
 * `_TIMEOUT`, `OTEL_BSP_*` and `OTEL_SDK_DISABLED`.
 *
 * tokenfuse hands the NodeSDK its readers and span processors (the Prometheus endpoint
 * is served its own way, and traces stay off unless asked for), so the SDK's own reading
 * of these variables never runs: this file reads them instead, the way the SDK does,
 * with tokenfuse's defaults. Endpoints, headers, timeouts, compression, certificates and
 * `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` are left to the official
 * exporters, which read their own `OTEL_EXPORTER_OTLP_*` variables.
 */
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import {
  ConsoleMetricExporter,
  type IMetricReader,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { redactUrl } from './errors/redact.js';
import { say } from './startup.js';

type Env = NodeJS.ProcessEnv;

/** A metrics exporter `OTEL_METRICS_EXPORTER` may name (besides `none`). */
export type MetricsExporterName = 'prometheus' | 'otlp' | 'console';

/** OTLP transport, as `OTEL_EXPORTER_OTLP_PROTOCOL` spells it. */
export type OtlpProtocol = 'http/protobuf' | 'http/json' | 'grpc';

const METRICS_EXPORTERS: readonly string[] = ['prometheus', 'otlp', 'console', 'none'];
const TRACES_EXPORTERS: readonly string[] = ['otlp', 'console', 'none'];
const PROTOCOLS: readonly string[] = ['http/protobuf', 'http/json', 'grpc'];

// The specification's defaults for the periodic reader.
const DEFAULT_INTERVAL_MS = 60_000;
const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * `OTEL_SDK_DISABLED`, read as the NodeSDK reads it (only `true`, any case, disables):
 * both must agree, or the SDK would stay silent while tokenfuse thought it ran.
 */
export function sdkDisabled(env: Env = process.env): boolean {
  const value = env.OTEL_SDK_DISABLED?.trim().toLowerCase() ?? '';
  if (value === 'true') return true;
  if (value !== '' && value !== 'false')
    say(
      `tokenfuse: OTEL_SDK_DISABLED=${JSON.stringify(env.OTEL_SDK_DISABLED)} is neither true nor false; ` +
        'read as false (the OpenTelemetry SDK reads it the same way), telemetry is exported',
    );
  return false;
}

/** A comma list of a variable, trimmed, lower-cased, without empty entries or repeats. */
function list(env: Env, name: string): string[] {
  const values = (env[name] ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  return [...new Set(values)];
}

/** Keeps the names `known` has; says once, on stderr, which ones it ignores and why. */
function knownNames(env: Env, name: string, known: readonly string[]): string[] {
  const names = list(env, name);
  for (const value of names.filter((n) => !known.includes(n)))
    say(
      `tokenfuse: ${name}=${env[name]?.trim()}: ${JSON.stringify(value)} is not an exporter ` +
        `tokenfuse/register supports (${known.join(', ')}); it is ignored, the others still apply`,
    );
  const kept = names.filter((n) => known.includes(n));
  if (kept.includes('none') && kept.length > 1)
    say(`tokenfuse: ${name}=${env[name]?.trim()} names none beside other exporters; none wins`);
  return kept.includes('none') ? [] : kept;
}

/**
 * The metrics exporters in effect: `OTEL_METRICS_EXPORTER` when set, otherwise
 * tokenfuse's own `metrics.exporter` (`prometheus` by default, unlike the SDK's `otlp`:
 * an app that sets nothing keeps its /metrics endpoint and sends nothing anywhere).
 */
export function metricsExporters(
  configured: 'prometheus' | 'none',
  env: Env = process.env,
): MetricsExporterName[] {
  if (list(env, 'OTEL_METRICS_EXPORTER').length === 0)
    return configured === 'none' ? [] : [configured];
  const names = knownNames(env, 'OTEL_METRICS_EXPORTER', METRICS_EXPORTERS);
  if (configured === 'none' && names.includes('prometheus'))
    say(
      'tokenfuse: OTEL_METRICS_EXPORTER names prometheus while metrics.exporter is none; ' +
        'the environment variable wins, /metrics is served',
    );
  return names as MetricsExporterName[];
}

/** The OTLP protocol of one signal: `OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL`, then the general one. */
export function otlpProtocol(signal: 'METRICS' | 'TRACES', env: Env = process.env): OtlpProtocol {
  const own = `OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`;
  const name = env[own]?.trim() ? own : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const value = env[name]?.trim().toLowerCase() || 'http/protobuf';
  if (PROTOCOLS.includes(value)) return value as OtlpProtocol;
  say(
    `tokenfuse: ${name}=${env[name]?.trim()} is not an OTLP protocol (${PROTOCOLS.join(', ')}); ` +
      'http/protobuf is used',
  );
  return 'http/protobuf';
}

/**
 * Where the OTLP exporter of a signal sends, for the startup line only (the exporter
 * resolves it itself, from the same variables): the signal's endpoint as it is, else
 * the general one with the signal's path (HTTP), else the default.
 */
export function otlpEndpoint(
  signal: 'METRICS' | 'TRACES',
  protocol: OtlpProtocol,
  env: Env = process.env,
): string {
  const own = env[`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`]?.trim();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  const path = `/v1/${signal.toLowerCase()}`;
  const url =
    own ||
    (protocol === 'grpc'
      ? base || 'http://localhost:4317'
      : `${(base || 'http://localhost:4318').replace(/\/$/, '')}${path}`);
  try {
    return redactUrl(url, 'kept');
  } catch {
    return 'an invalid endpoint';
  }
}

/** A positive number from `name`, or undefined (said once when invalid). */
function positive(env: Env, name: string): number | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const value = Number(raw);
  if (Number.isFinite(value) && value > 0) return value;
  say(`tokenfuse: ${name}=${raw} is not a positive number; the default is used`);
  return undefined;
}

/**
 * `OTEL_METRIC_EXPORT_INTERVAL` and `_TIMEOUT` for the periodic reader; a timeout
 * longer than the interval is clamped to it, as the SDK does (the reader rejects it).
 */
export function exportSchedule(env: Env = process.env): {
  exportIntervalMillis: number;
  exportTimeoutMillis: number;
} {
  const interval = positive(env, 'OTEL_METRIC_EXPORT_INTERVAL');
  const timeout = positive(env, 'OTEL_METRIC_EXPORT_TIMEOUT');
  const exportIntervalMillis = interval ?? DEFAULT_INTERVAL_MS;
  let exportTimeoutMillis = timeout ?? DEFAULT_TIMEOUT_MS;
  if (exportTimeoutMillis > exportIntervalMillis) {
    if (timeout !== undefined)
      say(
        `tokenfuse: OTEL_METRIC_EXPORT_TIMEOUT=${timeout} is longer than the export interval ` +
          `(${exportIntervalMillis} ms); it is clamped to the interval`,
      );
    exportTimeoutMillis = exportIntervalMillis;
  }
  return { exportIntervalMillis, exportTimeoutMillis };
}

function otlpMetricExporter(protocol: OtlpProtocol): PushMetricExporter {
  if (protocol === 'grpc') return new GrpcMetricExporter();
  if (protocol === 'http/json') return new JsonMetricExporter();
  return new ProtoMetricExporter();
}

/** What the periodic metric readers push, and how the startup line names them. */
export interface PushReaders {
  readers: IMetricReader[];
  /** e.g. `otlp http/protobuf http://localhost:4318/v1/metrics every 60000 ms`. */
  described: string[];
}

/** One periodic reader per push exporter named (`otlp`, `console`); Prometheus is the caller's. */
export function pushMetricReaders(
  names: readonly MetricsExporterName[],
  env: Env = process.env,
): PushReaders {
  const out: PushReaders = { readers: [], described: [] };
  if (!names.includes('otlp') && !names.includes('console')) return out;
  const schedule = exportSchedule(env);
  const every = `every ${schedule.exportIntervalMillis} ms`;
  if (names.includes('otlp')) {
    const protocol = otlpProtocol('METRICS', env);
    out.readers.push(
      new PeriodicExportingMetricReader({ exporter: otlpMetricExporter(protocol), ...schedule }),
    );
    out.described.push(`otlp ${protocol} ${otlpEndpoint('METRICS', protocol, env)} ${every}`);
  }
  if (names.includes('console')) {
    out.readers.push(
      new PeriodicExportingMetricReader({ exporter: new ConsoleMetricExporter(), ...schedule }),
    );
    out.described.push(`console ${every}`);
  }
  return out;
}

function otlpTraceExporter(protocol: OtlpProtocol): SpanExporter {
  if (protocol === 'grpc') return new GrpcTraceExporter();
  if (protocol === 'http/json') return new JsonTraceExporter();
  return new ProtoTraceExporter();
}

/**
 * Span processors for `OTEL_TRACES_EXPORTER` (`otlp`, `console`, `none`). Unset, no
 * traces are exported (unlike the SDK's `otlp`): tokenfuse's accounting needs none,
 * and an app that sets nothing sends nothing anywhere.
 */
export function traceProcessors(env: Env = process.env): SpanProcessor[] {
  const processors: SpanProcessor[] = [];
  for (const name of knownNames(env, 'OTEL_TRACES_EXPORTER', TRACES_EXPORTERS)) {
    if (name === 'console')
      processors.push(new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() }));
    else
      processors.push(
        // The batch processor no longer reads OTEL_BSP_* itself; the NodeSDK passes them.
        new BatchSpanProcessor({
          exporter: otlpTraceExporter(otlpProtocol('TRACES', env)),
          maxQueueSize: positive(env, 'OTEL_BSP_MAX_QUEUE_SIZE'),
          scheduledDelayMillis: positive(env, 'OTEL_BSP_SCHEDULE_DELAY'),
          exportTimeoutMillis: positive(env, 'OTEL_BSP_EXPORT_TIMEOUT'),
          maxExportBatchSize: positive(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE'),
        }),
      );
  }
  return processors;
}

/**
 * Under `OTEL_SDK_DISABLED`, the part of the NodeSDK's start() that budgets need: the
 * context manager `withAttribution()` runs on.
 */
export function startContextOnly(): void {
  const manager = new AsyncLocalStorageContextManager();
  manager.enable();
  context.setGlobalContextManager(manager);
}

/** The startup line's `metrics …` part: the endpoint and the pushes, or why there are none. */
export function describeMetrics(
  telemetryOff: boolean,
  served: string | undefined,
  pushed: readonly string[],
  env: Env = process.env,
): string {
  if (telemetryOff)
    return 'and traces not exported (OTEL_SDK_DISABLED=true); budgets and fuses still enforce';
  const parts = [...(served ? [served] : []), ...pushed];
  if (parts.length > 0) return parts.join(', ');
  const named = env.OTEL_METRICS_EXPORTER?.trim();
  return named
    ? `not exported (OTEL_METRICS_EXPORTER=${named})`
    : 'not served (metrics.exporter none)';
}
