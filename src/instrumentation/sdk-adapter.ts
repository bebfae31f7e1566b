/**
 * What an SDK folder (`src/instrumentation/<sdk>/`) declares, and all the generic
 * wrapper knows of any SDK: its module and versions, the methods to patch, how a
 * call's arguments carry its body and headers, how its promise and stream types
 * are observed, and per operation how a request becomes an estimate and a result
 * or a stream becomes normalised usage. The wrapper (`instrumentation.ts`,
 * `call-start.ts`, `call-attributes.ts`, `llm-call.ts`) never reads an SDK body or
 * promise itself.
 */
import type { Span, Tracer } from '@opentelemetry/api';
import type { Accountant } from '../accounting/accountant.js';
import { ATTR } from '../accounting/span-attributes.js';
import type { ResolvedConfig } from '../config/resolved-config.js';
import type { MaxOutput, RequestEstimate } from '../fuses/admission-estimate.js';
import type { FuseBoard } from '../fuses/fuse-board.js';
import { internalError } from '../internal-errors.js';
import type { PricingIssue, PricingIssues } from '../metrics/pricing-issues.js';
import { type BilledInput, inputLengthBound, inputTokenCount } from '../pricing/estimate-tokens.js';
import type { ProviderInfo } from '../pricing/providers.js';
import type { NormalizedUsage } from '../pricing/usage.js';

export type AnyFunction = (this: any, ...args: any[]) => any;

/**
 * Where an adapter writes a call's span attributes: the call's span itself. Not an
 * attributes object built per call: V8 keeps the hidden classes of such an object only
 * while one lives, so the compiled code that built it was thrown away at a full
 * collection every few tens of thousands of calls (docs/performance.md, _s11: hidden
 * classes that die_).
 */
export type AttributeSink = Pick<Span, 'setAttribute'>;

/**
 * Writes the request's output limit and temperature as the caller wrote them, each only
 * when it is a number (the limit a finite one): the request attributes most SDKs have.
 */
export function writeLimitAttributes(
  span: AttributeSink,
  maxTokens: unknown,
  temperature: unknown,
): void {
  if (typeof maxTokens === 'number' && Number.isFinite(maxTokens))
    span.setAttribute(ATTR.requestMaxTokens, maxTokens);
  if (typeof temperature === 'number') span.setAttribute(ATTR.requestTemperature, temperature);
}

/** An npm module an SDK folder instruments, and the versions whose shapes it knows. */
export interface SdkModule {
  /** The module name as imported (`openai`, `@anthropic-ai/sdk`, `@google/genai`). */
  name: string;
  /** semver ranges, declared once: the patch and the ESM hook both read them. */
  versions: string[];
  /**
   * Files inside the module that other packages load without its entry point (the
   * Bedrock and Vertex clients load `@anthropic-ai/sdk/client`): patched like the entry.
   */
  files?: string[];
}

/** What a finished (non-streamed) result tells us. */
export interface ResultInfo {
  usage: NormalizedUsage | undefined;
  responseModel: string | undefined;
  responseId: string | undefined;
  finishReasons: string[] | undefined;
  /** The provider's own figure for the call (USD), when the response carries one. */
  providerCostUsd?: number | undefined;
  /** The service tier the response says the call ran on. */
  serviceTier?: string | undefined;
  /** Output text: set only when asked for (`fromResult`'s `withText`, content capture on). */
  outputText?: string | undefined;
}

/** Mutable per-stream state that an operation's stream observer fills in. */
export interface StreamState {
  usage: NormalizedUsage | undefined;
  responseModel: string | undefined;
  responseId: string | undefined;
  finishReasons: string[];
  /** Text pieces streamed so far: joined and tokenized only if usage never arrives. */
  pieces: string[];
  /** Set on the first chunk that carries output. */
  firstChunk: boolean;
  /** The provider's own figure for the call (USD), when the usage carries one. */
  providerCostUsd?: number | undefined;
  /** The service tier the stream says the call ran on (the last one seen wins). */
  serviceTier?: string | undefined;
}

/**
 * How tokenfuse reads one operation of an SDK (OpenAI's `chat.completions.create`,
 * Anthropic's `messages.create`, Gen AI's `models.generateContent`): its request
 * body, its result, its stream items. Data only: no I/O, never throws on a
 * malformed payload.
 */
export interface OperationAdapter<Body = any> {
  /** `tokenfuse.api` span attribute. */
  api: string;
  /** `gen_ai.operation.name`. */
  operation: 'chat' | 'embeddings';
  /** The requested model, when the body names one. */
  model(body: Body): string | undefined;
  /**
   * Writes the span attributes of the request beyond model and operation (max tokens,
   * temperature, …) to the call's span.
   */
  writeRequestAttributes(span: AttributeSink, body: Body): void;
  /** The service tier the request asks for, priced when the response names none. */
  requestServiceTier(body: Body): string | undefined;
  /**
   * Returns the body to send, never mutating the caller's: an adapter may ask for a
   * final usage item on streams (`injectedUsage`), hidden again from the caller.
   */
  prepareBody(body: Body): { body: Body; injectedUsage: boolean };
  /** The output limit the call sets, read from the body as sent. */
  maxOutputTokens(body: Body): MaxOutput;
  /** Every part of the body the provider bills as input. */
  billedInput(body: Body): BilledInput;
  inputText(body: Body): string;
  /**
   * Reads a finished result. `catalogProvider` is the call's provider in the price
   * catalog, whose usage fields are read (see `fromCatalogUsage`).
   */
  fromResult(result: unknown, catalogProvider?: string, withText?: boolean): ResultInfo;
  /** Observes one stream item; returns true when the item must be hidden from the caller. */
  onStreamItem(
    item: unknown,
    state: StreamState,
    injectedUsage: boolean,
    catalogProvider?: string,
  ): boolean;
}

/** The client a call goes through, as far as the wrapper reads it. */
export interface SdkClient {
  /** For the provider (catalog provider, `server.address`). */
  baseURL: string | undefined;
  /** For the key's short fingerprint; never exported itself. */
  apiKey: unknown;
  /** The client object: per-client caches, and its default headers. */
  object: object;
  /**
   * The provider an SDK that speaks one provider's own protocol (`@google/genai`:
   * Gemini API or Vertex AI) talks to, used when neither the configuration nor the
   * built-in table knows the base URL's host (a relay, a local fake, a regional
   * Vertex host). Absent for OpenAI-compatible SDKs, whose host alone decides.
   */
  provider?: { id: string; semconvName: string } | undefined;
}

/** A call's arguments as the wrapper reads them. */
export interface SdkRequest {
  body: unknown;
  /** Per-request headers, `undefined` when the call passes none. */
  headers: unknown;
  /** False when the call's options are not a plain object the wrapper may copy. */
  headersReadable: boolean;
  client: SdkClient | undefined;
  /** The provider, when the SDK names it itself (AI SDK models); else read from the client's base URL. */
  provider?: ProviderInfo | undefined;
  /**
   * Why `provider` was told by a fallback, if it was: counted once per call in
   * `tokenfuse_pricing_issues_total{reason}` by the wrapper.
   */
  providerIssue?: PricingIssue | undefined;
  /**
   * A span the SDK's own tracing started for this call before calling the patched
   * method and handed it in the arguments (`@anthropic-ai/sdk` 1.x stream helpers):
   * neither parent nor child of ours, so it is marked as covered by ours here.
   */
  sdkSpan?: object;
}

/** What a stream's iteration goes through (the call, see `SdkPromises.wrapStream`). */
export interface IteratorObserver {
  /** The iterator the caller reads in place of `inner`. */
  observeIterator(inner: AsyncIterator<unknown>): AsyncIterator<unknown>;
}

/** What the wrapper's call object offers the SDK's promise and stream hooks. */
export interface CallObserver {
  /** The request body as sent. */
  readonly body: unknown;
  /** A parsed result (or stream) reached the caller's side; returns what the caller gets. */
  onResult(result: unknown): unknown;
  /** The call failed (transport, HTTP, parse). Safe to call more than once. */
  fail(err: unknown): void;
  /** The caller took the raw response and nothing will parse it: end on an estimate. */
  endUnread(): void;
}

/**
 * The SDK's promise and stream types. Stainless SDKs (openai, `@anthropic-ai/sdk`)
 * return an `APIPromise` whose helpers (`withResponse`, `asResponse`, `parse()`)
 * must keep working; `@google/genai` returns plain promises and async generators.
 */
export interface SdkPromises {
  /**
   * Observes what the SDK method returned and returns what the caller gets:
   * `returned` itself where its type can be hooked in place (an `APIPromise`, whose
   * helpers must keep working), else a promise derived from it that passes results
   * through `call.onResult` (a plain promise). `view` is the promise the caller
   * holds when it is not `returned` itself (see `deferred`). Returns undefined when
   * `returned` is not the SDK's promise.
   */
  attach(returned: unknown, call: CallObserver, view: unknown): unknown;
  /**
   * When `result` is a stream: makes its iteration go through
   * `observer.observeIterator` and returns what the caller gets (the same object when
   * wrapped in place); else undefined. An object, not a callback: no closure per call.
   */
  wrapStream(result: unknown, observer: IteratorObserver): unknown | undefined;
  /** A call that fails before any request: a rejection of the SDK's own promise type. */
  rejected(thisArg: unknown, err: Error): unknown;
  /**
   * A call sent later (after an asynchronous admission): returns the SDK's promise
   * type at once; `send(value, view)` runs once `ready` resolves and returns what
   * the SDK method returned, `view` being the promise returned here.
   */
  deferred<T>(
    thisArg: unknown,
    ready: Promise<T>,
    send: (value: T, view: unknown) => unknown,
  ): unknown;
}

/** One method to wrap in a loaded module. */
export interface PatchPoint {
  /**
   * The object (usually a prototype) that holds the method; undefined when absent.
   * A public method an SDK defines per instance (a class field) has no prototype to
   * patch: declare the prototype method it delegates to, one per request sent.
   */
  target: object | undefined;
  method: string;
  /** Named in the warning when the target or method is missing (`chat.completions.create`). */
  name: string;
  /** A model call: wrapped by the generic wrapper, read through this adapter. */
  operation?: OperationAdapter;
  /**
   * One method for many operations (Bedrock's `client.send(command)`): the
   * operation of each call, read from its `this` and arguments; undefined sends
   * the call untouched (a command that is no model call).
   */
  operationOf?: (thisArg: unknown, args: unknown[]) => OperationAdapter | undefined;
  /**
   * With `operationOf`: the method also takes a Node-style callback as its last argument
   * (the AWS SDK's `send(command, [options], callback)`), which returns nothing to observe.
   * Such a call goes through the promise form (the arguments without the callback) and
   * its outcome is handed to the callback.
   */
  callbackLast?: boolean;
  /** Anything else (the OpenAI Batch API): a wrapper of the SDK's own. */
  wrapper?: (original: AnyFunction, enabled: () => boolean) => AnyFunction;
}

/** A module once loaded: where to patch, and its promise types. */
export interface LoadedSdk {
  patchPoints: PatchPoint[];
  promises: SdkPromises;
}

/**
 * What an SDK folder instruments, in the words of the support table of docs/sdks.md
 * (generated from these by `support-table.ts`; a test keeps docs/sdks.md equal to it).
 * Markdown, one short phrase per cell.
 */
export interface SdkSupport {
  /** The methods instrumented, as a user calls them (`messages.create`, `messages.stream()`). */
  apis: string[];
  /** Which calls are instrumented streamed, and how their usage is read. */
  streaming: string;
  /** Which cached-token fields are read and how they are priced. */
  cachedTokens: string;
  /** Which calls the budget fuses block (with no request sent). */
  fuses: string;
}

/** One SDK folder's declaration. `S` is what it keeps per instrumentation (see `createSession`). */
export interface SdkAdapter<S = unknown> {
  module: SdkModule;
  /** The support table's row (docs/sdks.md) (a test requires it of every adapter in `SDKS`). */
  support?: SdkSupport;
  /** Per-instrumentation state, built once from the parts it is given. */
  createSession(services: SdkServices): S;
  /**
   * The patch points in a loaded module (CommonJS exports or an ESM namespace);
   * undefined when the module has no client this folder knows (said in the log).
   */
  load(moduleExports: unknown, session: S): LoadedSdk | undefined;
  /** Reads a call's body, headers and client from the method's `this` and arguments. */
  readRequest(thisArg: unknown, args: unknown[]): SdkRequest;
  /** The arguments to call the original with, body and headers replaced. */
  rebuildArgs(args: unknown[], body: unknown, headers: unknown): unknown[];
}

/** What an SDK folder may use beyond its own code (the Batch API accounts on its own). */
export interface SdkServices {
  config: ResolvedConfig;
  accountant: Accountant;
  issues: PricingIssues;
  board: FuseBoard;
  tracer: () => Tracer;
  providerOf: (baseURL: string | undefined) => ProviderInfo;
  /** Claims a key once per fleet (shared Redis ledger); per process only when omitted. */
  claimOnce?: ((key: string) => Promise<boolean>) | undefined;
}

/**
 * A call's request in numbers for admission: what the fuse board reserves from,
 * read from the body here so that the budget layer never sees an SDK body.
 */
export function estimateRequest(adapter: OperationAdapter, body: unknown): RequestEstimate {
  const input = adapter.billedInput(body);
  return {
    inputUpperBound: inputLengthBound(input),
    exactInput: () => inputTokenCount(input),
    inputUnseen: input.unseen,
    // An embedding has no output, whatever the body says.
    maxOutput:
      adapter.operation === 'embeddings'
        ? { kind: 'set', tokens: 0 }
        : adapter.maxOutputTokens(body),
  };
}

/**
 * A result's output text for `ResultInfo.outputText`, read only when content is captured
 * (the adapter calls this under `withText`, so no closure is made per result otherwise).
 * A read that throws leaves the text out and keeps the rest of the result (its usage).
 */
export function capturedText(read: () => string): string | undefined {
  try {
    return read();
  } catch (err) {
    internalError(
      'instrumentation',
      'reading an LLM response failed; the call itself is unaffected',
      err,
    );
    return undefined;
  }
}
