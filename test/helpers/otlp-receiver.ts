// A local OTLP receiver, as an OpenTelemetry Collector would be: HTTP (`/v1/metrics`,
// `/v1/traces`, protobuf or JSON bodies) and gRPC (the metrics and trace services), on free
// ports. Every request is decoded with protobufjs from the real opentelemetry-proto files
// (test/fixtures/opentelemetry-proto), so what the suites assert is what a collector reads.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { ROOT } from './processes.js';

const PROTO_DIR = join(ROOT, 'test/fixtures/opentelemetry-proto');

function loadRoot(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(PROTO_DIR, target);
  root.loadSync([
    'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
    'opentelemetry/proto/collector/trace/v1/trace_service.proto',
  ]);
  return root;
}

const root = loadRoot();
const MetricsRequest = root.lookupType(
  'opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest',
);
const TraceRequest = root.lookupType(
  'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest',
);

/** How a request reached the receiver. */
export type Transport = 'http/protobuf' | 'http/json' | 'grpc';

/** An OTLP attribute value as plain JS. */
export type AttrValue = string | number | boolean | AttrValue[] | null;
export type Attrs = Record<string, AttrValue>;

/** A decoded request with the transport it came over. */
export interface Received<T> {
  transport: Transport;
  body: T;
}

// The decoded messages, converted to plain objects (longs as numbers, enums by name).
// Only the fields the suites read are typed.
interface KeyValue {
  key: string;
  value?: Record<string, unknown>;
}
export interface NumberPoint {
  attributes?: KeyValue[];
  asDouble?: number;
  asInt?: number;
}
export interface HistogramPoint {
  attributes?: KeyValue[];
  count?: number;
  sum?: number;
}
export interface Metric {
  name: string;
  unit?: string;
  sum?: {
    dataPoints?: NumberPoint[];
    aggregationTemporality?: string;
    isMonotonic?: boolean;
  };
  gauge?: { dataPoints?: NumberPoint[] };
  histogram?: { dataPoints?: HistogramPoint[]; aggregationTemporality?: string };
}
export interface MetricsBody {
  resourceMetrics?: {
    resource?: { attributes?: KeyValue[] };
    scopeMetrics?: { scope?: { name?: string; version?: string }; metrics?: Metric[] }[];
  }[];
}
export interface Span {
  name: string;
  kind?: string;
  attributes?: KeyValue[];
  status?: { code?: string };
}
export interface TracesBody {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: { scope?: { name?: string }; spans?: Span[] }[];
  }[];
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: String, bytes: String };

function anyValue(v: Record<string, unknown> | undefined): AttrValue {
  if (!v) return null;
  if ('stringValue' in v) return v.stringValue as string;
  if ('boolValue' in v) return v.boolValue as boolean;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue as number;
  if ('arrayValue' in v)
    return ((v.arrayValue as { values?: Record<string, unknown>[] }).values ?? []).map(anyValue);
  return null;
}

/** OTLP attributes as a plain record. */
export function attrs(list: KeyValue[] | undefined): Attrs {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, anyValue(kv.value)]));
}

function decode<T>(type: protobuf.Type, bytes: Uint8Array, json: boolean): T {
  // OTLP/JSON is the protobuf JSON mapping: fromObject reads it (ids aside, which the
  // suites do not compare); both paths end in the same plain shape.
  const message = json
    ? type.fromObject(JSON.parse(Buffer.from(bytes).toString('utf8')))
    : type.decode(bytes);
  return type.toObject(message, TO_OBJECT) as T;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  return req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
}

/** A running receiver: what it got, its addresses, and `close()`. */
export class OtlpReceiver {
  readonly metrics: Received<MetricsBody>[] = [];
  readonly traces: Received<TracesBody>[] = [];
  /** Request headers of every HTTP request, in order. */
  readonly headers: IncomingMessage['headers'][] = [];
  /** Anything that failed to decode: a suite asserts this stays empty. */
  readonly errors: string[] = [];

  private constructor(
    private readonly http: Server,
    private readonly grpcServer: grpc.Server,
    /** `http://127.0.0.1:<port>`, for OTEL_EXPORTER_OTLP_ENDPOINT over HTTP. */
    readonly httpUrl: string,
    /** `http://127.0.0.1:<port>`, for OTEL_EXPORTER_OTLP_ENDPOINT over gRPC. */
    readonly grpcUrl: string,
  ) {}

  /** Starts both listeners on free ports of 127.0.0.1. */
  static async start(): Promise<OtlpReceiver> {
    let receiver: OtlpReceiver | undefined;
    const http = createServer(async (req, res) => {
      const self = receiver!;
      try {
        const body = await readBody(req);
        const json = (req.headers['content-type'] ?? '').includes('json');
        self.headers.push(req.headers);
        const transport: Transport = json ? 'http/json' : 'http/protobuf';
        if (req.method === 'POST' && req.url === '/v1/metrics')
          self.metrics.push({ transport, body: decode(MetricsRequest, body, json) });
        else if (req.method === 'POST' && req.url === '/v1/traces')
          self.traces.push({ transport, body: decode(TraceRequest, body, json) });
        else {
          res.writeHead(404).end();
          return;
        }
        // An empty Export…ServiceResponse: full success.
        res.writeHead(200, {
          'content-type': json ? 'application/json' : 'application/x-protobuf',
        });
        res.end(json ? '{}' : '');
      } catch (err) {
        self.errors.push(String(err));
        res.writeHead(400).end();
      }
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));

    const grpcServer = new grpc.Server();
    // Raw bytes in and out: decoding is ours, from the same .proto files as over HTTP.
    const unary = (path: string): grpc.MethodDefinition<Buffer, Buffer> => ({
      path,
      requestStream: false,
      responseStream: false,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Buffer) => b,
      responseDeserialize: (b: Buffer) => b,
    });
    const handler =
      (
        type: protobuf.Type,
        into: () => Received<unknown>[],
      ): grpc.handleUnaryCall<Buffer, Buffer> =>
      (call, callback) => {
        try {
          into().push({ transport: 'grpc', body: decode(type, call.request, false) });
          callback(null, Buffer.alloc(0));
        } catch (err) {
          receiver!.errors.push(String(err));
          callback({ code: grpc.status.INVALID_ARGUMENT, details: String(err) });
        }
      };
    grpcServer.addService(
      { Export: unary('/opentelemetry.proto.collector.metrics.v1.MetricsService/Export') },
      { Export: handler(MetricsRequest, () => receiver!.metrics) },
    );
    grpcServer.addService(
      { Export: unary('/opentelemetry.proto.collector.trace.v1.TraceService/Export') },
      { Export: handler(TraceRequest, () => receiver!.traces) },
    );
    const grpcPort = await new Promise<number>((resolve, reject) =>
      grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
    const httpPort = (http.address() as AddressInfo).port;
    receiver = new OtlpReceiver(
      http,
      grpcServer,
      `http://127.0.0.1:${httpPort}`,
      `http://127.0.0.1:${grpcPort}`,
    );
    return receiver;
  }

  /** Every metric named `name`, in the order received (one per export, per resource). */
  metricsNamed(name: string): Metric[] {
    return this.metrics.flatMap((r) =>
      (r.body.resourceMetrics ?? []).flatMap((rm) =>
        (rm.scopeMetrics ?? []).flatMap((sm) => (sm.metrics ?? []).filter((m) => m.name === name)),
      ),
    );
  }

  /** The last export's `name`: with cumulative temporality, the totals so far. */
  lastMetric(name: string): Metric | undefined {
    return this.metricsNamed(name).at(-1);
  }

  /** Every span received, with the resource it came from. */
  spans(): { span: Span; resource: Attrs; scope: string | undefined }[] {
    return this.traces.flatMap((r) =>
      (r.body.resourceSpans ?? []).flatMap((rs) =>
        (rs.scopeSpans ?? []).flatMap((ss) =>
          (ss.spans ?? []).map((span) => ({
            span,
            resource: attrs(rs.resource?.attributes),
            scope: ss.scope?.name,
          })),
        ),
      ),
    );
  }

  /** Polls `check` until it returns something other than undefined, or throws after `timeoutMs`. */
  async waitFor<T>(what: string, check: () => T | undefined, timeoutMs = 20_000): Promise<T> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      if (Date.now() > until)
        throw new Error(
          `no ${what} from the app in ${timeoutMs} ms (received ${this.metrics.length} metrics and ${this.traces.length} trace requests; errors ${JSON.stringify(this.errors)})`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async close(): Promise<void> {
    this.http.closeAllConnections();
    await new Promise((resolve) => this.http.close(resolve));
    await new Promise<void>((resolve) => this.grpcServer.tryShutdown(() => resolve()));
  }
}
