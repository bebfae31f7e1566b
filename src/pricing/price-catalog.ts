/**
 * The price data `calcPrice` uses: the catalog bundled with `@pydantic/genai-prices`,
 * or a newer one read from a file or fetched from a URL (`pricing.catalog`),
 * optionally re-read every `pricing.refresh`, so prices can move without a release.
 *
 * A loaded catalog is handed to the library through its own `updatePrices` hook
 * rather than kept beside it: `calcPrice` matches providers (aliases, fallbacks
 * such as Azure → OpenAI, model-based matching) only over the library's active
 * data, so a parallel copy would mean re-implementing that matching, and the
 * library validates the data (price constraints, usage extractors) before it
 * switches, keeping the previous data when the new one is invalid. The price in
 * effect is therefore process-wide, like the library's own.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { diag } from '@opentelemetry/api';
import { type Provider, updatePrices } from '@pydantic/genai-prices';
import { redactUrl } from '../errors/redact.js';
import { internalError } from '../internal-errors.js';

/** `pricing.catalog` value meaning the data bundled with the installed genai-prices. */
export const BUNDLED_CATALOG = 'bundled';

/** How long one fetch of a catalog URL may take. */
export const CATALOG_FETCH_TIMEOUT_MS = 10_000;

// The v2 catalog is under 1 MB; anything far larger is not a catalog.
const MAX_CATALOG_BYTES = 32 * 1024 * 1024;

/** Options of {@link PriceCatalog}. */
export interface PriceCatalogOptions {
  /** `bundled`, a file path, or an http(s) URL of a catalog JSON (genai-prices' v2 `data.json` format). */
  source: string;
  /** Re-read the source this often (ms); undefined: load once. */
  refreshMs?: number | undefined;
  /** @default CATALOG_FETCH_TIMEOUT_MS */
  timeoutMs?: number;
  /** Clock of the catalog's age (epoch ms). @default Date.now */
  now?: () => number;
  /** Makes loaded providers the data `calcPrice` uses; throws when they are invalid. @default genai-prices' updatePrices */
  apply?: (providers: Provider[]) => void;
}

/** Hands providers to genai-prices; its validation throws before anything is switched. */
function applyToGenaiPrices(providers: Provider[]): void {
  updatePrices(({ setProviderData }) => setProviderData(providers));
}

/**
 * The source of prices and its health: when the data in use was loaded
 * ({@link ageSeconds}), how many loads failed ({@link errors}), and listeners told
 * when new data took effect (the price book drops its cached decisions then).
 */
export class PriceCatalog {
  /** Failed loads and refreshes since start. */
  errors = 0;
  /** Settles when the first load from the source has finished (true: it succeeded). */
  readonly ready: Promise<boolean>;
  private loadedAt: number;
  private readonly now: () => number;
  private readonly apply: (providers: Provider[]) => void;
  private readonly listeners = new Set<() => void>();
  private inFlight: Promise<boolean> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Whether the last load failed: a failure is logged once per run of failures. */
  private failing = false;

  constructor(private readonly options: PriceCatalogOptions) {
    this.now = options.now ?? Date.now;
    this.apply = options.apply ?? applyToGenaiPrices;
    this.loadedAt = this.now();
    const { source } = options;
    if (source === BUNDLED_CATALOG) {
      this.ready = Promise.resolve(true);
    } else if (isUrl(source)) {
      // Calls made before the first fetch completes are priced with the bundled data.
      this.ready = this.refresh();
    } else {
      // A file is read at once, so the very first call is priced from it.
      this.ready = Promise.resolve(this.settle(() => readFileSync(source, 'utf8')));
    }
    if (options.refreshMs !== undefined && source !== BUNDLED_CATALOG) {
      // Never on the call path, and never what keeps the app alive.
      this.timer = setInterval(() => void this.refresh(), options.refreshMs);
      this.timer.unref();
    }
  }

  /** Where prices come from: `bundled`, a file path, or a URL (credentials hidden). */
  get source(): string {
    return describeSource(this.options.source);
  }

  /**
   * Seconds since the data in use was loaded: since start for the bundled data
   * (genai-prices carries no date for it), else since the last successful read of
   * the file or URL. A failing refresh lets it grow, which is what to alert on.
   */
  ageSeconds(): number {
    return Math.max(0, (this.now() - this.loadedAt) / 1000);
  }

  /** Calls `listener` whenever newly loaded prices take effect; returns a remover. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Reads the source again now (what `pricing.refresh` does on its timer). Never
   * rejects: a failure keeps the prices in use, is counted in {@link errors}, and
   * logged once until a load succeeds again. Resolves true when new prices took effect.
   */
  refresh(): Promise<boolean> {
    const source = this.options.source;
    if (source === BUNDLED_CATALOG) return Promise.resolve(true);
    if (this.inFlight) return this.inFlight;
    const read = isUrl(source)
      ? fetchText(source, this.options.timeoutMs ?? CATALOG_FETCH_TIMEOUT_MS)
      : readFile(source, 'utf8');
    this.inFlight = read
      .then(
        (text) => this.settle(() => text),
        (err: unknown) => this.fail(err),
      )
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }

  /** Stops the refresh timer. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private settle(read: () => string): boolean {
    try {
      const providers = parseCatalog(read());
      this.apply(providers);
    } catch (err) {
      return this.fail(err);
    }
    this.loadedAt = this.now();
    if (this.failing) diag.info(`tokenfuse: price catalog ${this.source} loaded again`);
    this.failing = false;
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (err) {
        internalError('listener', 'a price catalog listener failed', err);
      }
    }
    return true;
  }

  private fail(err: unknown): false {
    this.errors += 1;
    if (!this.failing) {
      diag.warn(
        `tokenfuse: cannot load the price catalog ${this.source} (${err instanceof Error ? err.message : String(err)}); ` +
          'the prices in use are kept; failures are counted in tokenfuse_price_catalog_errors_total',
      );
    }
    this.failing = true;
    return false;
  }
}

/** Whether a `pricing.catalog` value is a URL (else `bundled` or a file path). */
export function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

function describeSource(source: string): string {
  if (!isUrl(source)) return source === BUNDLED_CATALOG ? source : `file ${source}`;
  return redactUrl(source, 'kept');
}

/**
 * Checks the outline of genai-prices' v2 catalog (an array of providers, each with
 * an id and an array of models) so that a wrong file fails with a plain message;
 * the library checks the rest when it is applied.
 */
export function parseCatalog(text: string): Provider[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!Array.isArray(data) || data.length === 0) {
    throw new Error(
      'expected a non-empty array of providers (the genai-prices data.json v2 format)',
    );
  }
  data.forEach((p: unknown, i) => {
    const provider = p as { id?: unknown; models?: unknown } | null;
    if (typeof provider?.id !== 'string' || !Array.isArray(provider.models)) {
      throw new Error(`providers[${i}] is not a provider with an id and a models array`);
    }
  });
  return data as Provider[];
}

function fetchText(url: string, timeoutMs: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const get = url.toLowerCase().startsWith('https:') ? httpsGet : httpGet;
    const req = get(url, { headers: { accept: 'application/json' } });
    // One deadline for the whole exchange (a socket timeout would let a slow drip
    // go on forever); neither it nor the socket keeps the process alive.
    const deadline = setTimeout(
      () => req.destroy(new Error(`no complete answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    deadline.unref();
    const fail = (err: Error) => {
      clearTimeout(deadline);
      reject(err);
    };
    req.on('socket', (socket) => socket.unref());
    req.on('error', fail);
    req.on('response', (res: IncomingMessage) => {
      if (res.statusCode === undefined || res.statusCode < 200 || res.statusCode >= 300) {
        res.resume();
        fail(new Error(`HTTP ${res.statusCode}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_CATALOG_BYTES) {
          req.destroy(new Error(`larger than ${MAX_CATALOG_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', fail);
      res.on('end', () => {
        clearTimeout(deadline);
        resolve(Buffer.concat(chunks).toString('utf8'));
      });
    });
  });
}
