/**
 * What the shared behaviour suite (`behaviour.ts`) needs of one SDK: how to load and
 * patch it into a test harness, how to make one plain and one streamed call through
 * its real client against the fake server, and what it expects to see (provider,
 * model, usage). One driver per SDK major; the suite body is the same for all.
 *
 * A driver never mocks the SDK: every call goes through the SDK's own client over
 * HTTP to the fake server (examples/shared/fake-openai-server.mjs), which speaks
 * OpenAI, Anthropic Messages and Gemini on their real paths.
 */
import type { TokenfuseOptions } from '../../src/types.js';
import type { Harness } from '../helpers/harness.js';

/**
 * Usage of one call in the price catalog's keys (`@pydantic/genai-prices`): what the
 * suite passes to `calcPrice` for the expected dollars. `input_tokens` INCLUDES cache
 * reads and writes, as in the catalog.
 */
export interface CatalogUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens?: number;
  cache_write_tokens?: number;
}

/** One call the suite asks a driver to make. */
export interface CallSpec {
  /**
   * The user message. The fake counts its words (see each protocol's header comment
   * in examples/shared/): the driver turns it into the expected usage.
   */
  prompt: string;
  /**
   * The output limit (max_tokens / max_output_tokens / maxOutputTokens). The fakes reply
   * up to it (OpenAI's all of it, Anthropic's and Gemini's at most 5 words): the reply's
   * length is the driver's `usage(spec).output_tokens`, never assumed from this.
   */
  maxTokens: number;
  /** Per-request headers (`X-Department`, ...), put where the SDK takes them per request. */
  headers?: Record<string, string>;
  /** Aborts the call (the SDK's per-request `signal`, or its equivalent). */
  signal?: AbortSignal;
}

/** How far to read a stream. */
export interface StreamRead {
  /** Stop (break out of the loop) after this many items: an abandoned stream. */
  stopAfter?: number;
}

/** A client of the driver's SDK, connected to the fake server. */
export interface DriverClient {
  /**
   * One non-streamed call. Returns exactly what the SDK method returned (the SDK's
   * own promise type, not awaited, not wrapped): the suite checks its type when a
   * fuse blocks the call.
   */
  call(spec: CallSpec): PromiseLike<unknown>;
  /** The reply text of a result `call` resolved to. */
  text(result: unknown): string;
  /**
   * One streamed call, read item by item through the SDK's own stream (`for await`);
   * resolves to the text read. Rejects as the SDK's stream does (cut connection,
   * HTTP error, abort, fuse).
   */
  stream(spec: CallSpec, read?: StreamRead): Promise<{ text: string; items: number }>;
}

/**
 * What a driver's SDK can do that not every SDK can. Each is `true` unless declared
 * `false`; a `false` makes the suite assert the documented behaviour instead (see the
 * docs/limits.md), never skip the case.
 */
export interface DriverCapabilities {
  /**
   * Client-wide `X-Department`... headers (`defaultHeaders`) attribute every call and are
   * stripped. `false` (`@google/genai`): they are sent as they are and tag nothing.
   */
  clientHeaders?: boolean;
  /**
   * Per-request `X-Department`... headers attribute the call and are stripped. `false`
   * (Bedrock: the AWS SDK's `send` options carry no headers; a user adds them with a
   * middleware on the command): they are sent as they are and tag nothing.
   */
  requestHeaders?: boolean;
  /**
   * The span names the server (`server.address` 127.0.0.1, the fake's host). `false`
   * (Bedrock: the endpoint is an async setting of the client, unknown before sending;
   * the AI SDK middleware: the provider's URL is not part of the call it sees).
   */
  serverAddress?: boolean;
  /**
   * A `break` out of the stream loop abandons the request: the call ends on what was
   * read, estimated. `false` (the AI SDK's `streamText`, not `streamObject`: it reads the model's stream to
   * its end for its own promises, `text` and `usage`, whatever the caller reads): the
   * request completes and the call ends ok with the provider's full usage.
   */
  abandonOnBreak?: boolean;
}

/** One SDK (one major) as the behaviour suite drives it. */
export interface SdkDriver {
  /** Suite title, e.g. `openai 4.104.0 (openai-v4)`. */
  name: string;
  /**
   * Tokenfuse options this SDK needs in the harness (e.g. `providers` mapping the
   * fake's host 127.0.0.1 to the catalog provider). The suite merges its own
   * options (budgets, attribution) over these.
   */
  harnessOptions: TokenfuseOptions;
  /**
   * Loads the SDK module and patches it into the harness' instrumentation, through
   * `h.tokenfuse.instrumentation.getModuleDefinitions()` with the module's own
   * version (an npm alias such as `openai-v4` is not hooked by name, so it is patched
   * explicitly). Called after `createHarness`; returns the unpatch, called before
   * `h.close()`.
   */
  install(h: Harness): () => void;
  /**
   * A client of the installed SDK against the fake server. `fakeUrl` is the fake's
   * base URL without `/v1`. Retries off. `defaultHeaders` are client-wide headers.
   */
  connect(fakeUrl: string, defaultHeaders?: Record<string, string>): DriverClient;
  /**
   * The fake's listener the client talks to: its HTTP/1.1 URL (default) or, for the AWS
   * SDK, its HTTP/2 cleartext one (`bedrockUrl`).
   */
  fakeListener?: 'http1' | 'bedrock';
  /** True when `value` is the SDK's own promise type (openai/Anthropic: its APIPromise). */
  isSdkPromise(value: unknown): boolean;
  /** The HTTP status an SDK error carries (429 for the fake's rate-limit script). */
  statusOf(err: unknown): number | undefined;

  /** What this SDK cannot do; omitted means everything. */
  capabilities?: DriverCapabilities;

  /** The model `call`/`stream` request. */
  model: string;
  /** Expected `provider` metric label (tokenfuse's provider id). */
  provider: string;
  /** The price catalog provider id, for `calcPrice(usage, model, { providerId })`. */
  catalogProvider: string;
  /** Expected span `gen_ai.provider.name`. */
  providerName: string;
  /** Expected `tokenfuse.api` span attribute. */
  api: string;
  /** Expected `tokenfuse.api` of `stream`, where the SDK streams by another method; else `api`. */
  streamApi?: string;
  /** What the fake server reports for `spec` (plain or streamed, the same). */
  usage(spec: CallSpec): CatalogUsage;
  /**
   * True for a request the fake received that is a model call of this driver (the
   * suite counts them to prove a blocked call sent nothing).
   */
  isModelRequest(path: string): boolean;
}
