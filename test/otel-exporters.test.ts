// How start() reads the standard OpenTelemetry exporter variables (src/otel-exporters.ts),
// case by case; test/otlp.test.ts runs them end to end against a local OTLP receiver.
import { describe, expect, it } from 'vitest';
import {
  describeMetrics,
  exportSchedule,
  metricsExporters,
  otlpEndpoint,
  otlpProtocol,
  pushMetricReaders,
  traceProcessors,
} from '../src/otel-exporters.js';

describe('reading the variables', () => {
  it('lets OTEL_METRICS_EXPORTER decide over metrics.exporter, and falls back to it', () => {
    expect(metricsExporters('prometheus', {})).toEqual(['prometheus']);
    expect(metricsExporters('none', {})).toEqual([]);
    expect(metricsExporters('prometheus', { OTEL_METRICS_EXPORTER: ' OTLP , console' })).toEqual([
      'otlp',
      'console',
    ]);
    expect(metricsExporters('none', { OTEL_METRICS_EXPORTER: 'prometheus' })).toEqual([
      'prometheus',
    ]);
    expect(metricsExporters('prometheus', { OTEL_METRICS_EXPORTER: 'none,otlp' })).toEqual([]);
  });

  it('reads the protocol per signal first, and falls back to http/protobuf on a bad one', () => {
    const env = {
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
    };
    expect(otlpProtocol('METRICS', env)).toBe('grpc');
    expect(otlpProtocol('TRACES', env)).toBe('http/json');
    expect(otlpProtocol('METRICS', {})).toBe('http/protobuf');
    expect(otlpProtocol('METRICS', { OTEL_EXPORTER_OTLP_PROTOCOL: 'udp' })).toBe('http/protobuf');
  });

  it('names the endpoint the exporter resolves, without its secrets', () => {
    expect(otlpEndpoint('METRICS', 'http/protobuf', {})).toBe('http://localhost:4318/v1/metrics');
    expect(otlpEndpoint('TRACES', 'grpc', {})).toBe('http://localhost:4317');
    expect(
      otlpEndpoint('METRICS', 'http/json', {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector:4318/',
      }),
    ).toBe('https://collector:4318/v1/metrics');
    expect(
      otlpEndpoint('METRICS', 'http/protobuf', {
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'https://user:pw@otlp.example/ingest?key=abc',
      }),
    ).toBe('https://user:***@otlp.example/ingest?***');
  });

  it('builds one periodic reader per push exporter, and span processors per trace exporter', async () => {
    const pushed = pushMetricReaders(['prometheus', 'otlp', 'console'], {
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'grpc',
      OTEL_METRIC_EXPORT_INTERVAL: '1000',
    });
    expect(pushed.readers.map((r) => r.constructor.name)).toEqual([
      'PeriodicExportingMetricReader',
      'PeriodicExportingMetricReader',
    ]);
    expect(pushed.described).toEqual([
      'otlp grpc http://localhost:4317 every 1000 ms',
      'console every 1000 ms',
    ]);
    expect(pushMetricReaders(['prometheus'], {}).readers).toEqual([]);
    const processors = traceProcessors({ OTEL_TRACES_EXPORTER: 'console,otlp' });
    expect(processors.map((p) => p.constructor.name)).toEqual([
      'SimpleSpanProcessor',
      'BatchSpanProcessor',
    ]);
    expect(traceProcessors({})).toEqual([]);
    await Promise.all([...pushed.readers, ...processors].map((x) => x.shutdown()));
  });

  it('says in the startup line why no metrics leave the process', () => {
    expect(describeMetrics(false, undefined, [], {})).toBe('not served (metrics.exporter none)');
    expect(describeMetrics(false, undefined, [], { OTEL_METRICS_EXPORTER: 'none' })).toBe(
      'not exported (OTEL_METRICS_EXPORTER=none)',
    );
    expect(
      describeMetrics(false, 'http://127.0.0.1:9464/metrics', ['console every 60000 ms'], {}),
    ).toBe('http://127.0.0.1:9464/metrics, console every 60000 ms');
  });

  it('clamps an export timeout longer than the interval, as the SDK does', () => {
    expect(exportSchedule({})).toEqual({
      exportIntervalMillis: 60_000,
      exportTimeoutMillis: 30_000,
    });
    expect(exportSchedule({ OTEL_METRIC_EXPORT_INTERVAL: '5000' })).toEqual({
      exportIntervalMillis: 5000,
      exportTimeoutMillis: 5000,
    });
    expect(
      exportSchedule({ OTEL_METRIC_EXPORT_INTERVAL: '-1', OTEL_METRIC_EXPORT_TIMEOUT: '100' }),
    ).toEqual({ exportIntervalMillis: 60_000, exportTimeoutMillis: 100 });
  });
});
