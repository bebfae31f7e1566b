/**
 * The HTTP server of the Prometheus endpoint, ours rather than the exporter's own:
 * the exporter's server leaves a scraper's keep-alive connections referenced, so a
 * process that has finished its work stays up as long as Prometheus keeps scraping.
 */

import { createServer, type Server, type ServerResponse } from 'node:http';
import { diag } from '@opentelemetry/api';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { MetricProducer } from '@opentelemetry/sdk-metrics';
import { releaseChunk } from './byte-chunks.js';
import { collectLazily } from './metrics-engine.js';
import type { OverflowWatch } from './overflow-watch.js';
import { type PrometheusTextOptions, prometheusChunks } from './prometheus-text.js';

/** Where the endpoint listens. */
export interface MetricsAddress {
  host: string;
  port: number;
  /** Path of the endpoint, starting with `/`. */
  endpoint: string;
  /**
   * Settles when the resource's async attributes have (host.id is read from a file):
   * a scrape waits for it, since the exporter reads the resource on every scrape and
   * logs "Accessing resource attributes before async attributes settled" otherwise.
   */
  ready?: Promise<unknown>;
  /** Told of every collection served, to count the SDK's overflow series. */
  watch?: OverflowWatch;
  /** tokenfuse's producer among the exporter's: asked for a lazy collection (metrics-engine.ts). */
  producer?: MetricProducer;
  /** The text's options (`metrics.withoutScopeInfo`). */
  text?: PrometheusTextOptions;
}

/**
 * Serves `exporter`'s metrics on `host:port` at `endpoint` (404 elsewhere), never
 * keeping the process alive: the listening socket and every accepted connection are
 * unreferenced, so the app exits when its own work is done, mid-scrape or not.
 * A failure to listen (the port taken) is logged through diag; the app goes on.
 */
export function serveMetrics(exporter: PrometheusExporter, address: MetricsAddress): Server {
  const { host, port, endpoint, ready } = address;
  let settled = ready === undefined;
  void ready?.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  const server = createServer((request, response) => {
    let pathname: string;
    try {
      pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
    } catch {
      response.statusCode = 400;
      response.end('Bad Request');
      return;
    }
    if (pathname === endpoint) {
      if (settled || ready === undefined) void respond(exporter, response, address);
      else
        void ready.then(
          () => respond(exporter, response, address),
          () => respond(exporter, response, address),
        );
    } else {
      response.statusCode = 404;
      response.end();
    }
  });
  server.unref();
  server.on('connection', (socket) => socket.unref());
  // One line a person can act on, not a stack: the app runs on, counted and budgeted.
  server.on('error', (err: NodeJS.ErrnoException) =>
    diag.error(
      err.code === 'EADDRINUSE'
        ? `tokenfuse: cannot serve metrics on ${host}:${port}: the port is in use by another process (EADDRINUSE); calls are still counted and budgeted; give each process its own port with OTEL_EXPORTER_PROMETHEUS_PORT or metrics.port`
        : `tokenfuse: cannot serve metrics on ${host}:${port}: ${err.message}; calls are still counted and budgeted`,
    ),
  );
  server.listen({ host, port });
  return server;
}

/** Stops listening and drops open connections (keep-alive ones would delay close()). */
export function closeMetricsServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * Collects and writes the Prometheus text in chunks, handing the event loop back
 * between them (and waiting for the socket to drain), so that one scrape of tens of
 * thousands of series never stalls the app's own work for long. The text is the
 * exporter's (see prometheus-text.ts).
 */
async function respond(
  exporter: PrometheusExporter,
  response: ServerResponse,
  { watch, producer, text }: MetricsAddress,
): Promise<void> {
  response.statusCode = 200;
  response.setHeader('content-type', 'text/plain');
  try {
    const { resourceMetrics, errors } = await (producer
      ? collectLazily(producer, () => exporter.collect())
      : exporter.collect());
    if (errors.length > 0) diag.error('PrometheusExporter: metrics collection errors', ...errors);
    watch?.inspect(resourceMetrics);
    for (const chunk of prometheusChunks(resourceMetrics, text)) {
      if (response.destroyed) return;
      // Written, the chunk's memory serves a later one (a fresh buffer per chunk cost more).
      const more = response.write(chunk, (err) => {
        if (!err) releaseChunk(chunk);
      });
      if (!more) await drained(response);
      // Always a turn of the loop: a write the kernel took at once drains in a nextTick,
      // and waiting for that alone would write megabytes without the app getting a turn.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    response.end();
  } catch (err) {
    diag.error('tokenfuse: serving /metrics failed', err);
    if (response.headersSent) response.destroy(err as Error);
    else response.end(`# failed to export metrics: ${err}`);
  }
}

function drained(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.on('drain', done);
    response.on('close', done);
  });
}
