// Type declarations for ./fake-openai-server.mjs (a deterministic OpenAI-compatible fake server).
// See the header comment of the .mjs file for the exact token-accounting rules.

export interface FakeOpenAIOptions {
  /** Port to listen on; 0 (default) picks a random free port. */
  port?: number;
  /** Interface to bind; default '127.0.0.1'. */
  host?: string;
  /** Delay between consecutive SSE frames of a streamed response, in ms (default 0). */
  chunkDelayMs?: number;
}

export interface RecordedRequest {
  method: string;
  /** The request target as received, e.g. '/v1/chat/completions' (query string included). */
  path: string;
  /** Request headers, lowercased names; repeated headers joined with ', '. */
  headers: Record<string, string>;
  /** Parsed JSON body, or null when the body was empty or not valid JSON. */
  body: any;
  /** Date.now() when the request body had been fully received. */
  receivedAt: number;
}

/** Usage object emitted verbatim by a `usage` script (chat, responses or embeddings shape). */
export type ScriptUsage = Record<string, unknown>;

export type Script =
  /**
   * Reply with `status`. Without `body`, OpenAI's error JSON for that status is sent (429 also
   * gets `retry-after: 1` and x-ratelimit-* headers). A string body is sent verbatim as
   * text/plain (override content-type via `headers`), e.g. a proxy's HTML 502 page.
   * `headers` are merged over the defaults (e.g. { 'retry-after-ms': '5' }).
   */
  | { kind: 'error'; status: number; body?: object | string; headers?: Record<string, string> }
  /** Read the request and never answer (client timeouts / aborts); close() cleans it up. */
  | { kind: 'hang' }
  /**
   * Report no usage at all: chat streams get no usage chunk even with
   * stream_options.include_usage (and no `usage` keys), other responses omit `usage`
   * (Responses streams send `usage: null` in response.completed).
   */
  | { kind: 'ignore-include-usage' }
  /**
   * Streams: send the first `afterChunks` SSE frames, then drop the connection (no [DONE]).
   * Non-streaming requests: send headers and half of the JSON body, then drop.
   */
  | { kind: 'stream-cut'; afterChunks: number }
  /**
   * Replace the computed usage object of the next response with `usage`, verbatim
   * (extra fields such as OpenRouter's `cost` included). With `model`, the response
   * names that model instead of the requested one (an alias answered by a snapshot).
   */
  | { kind: 'usage'; usage: ScriptUsage; model?: string }
  /**
   * Answer 200 with anything, whatever the endpoint: `body` as JSON, or, with `events`,
   * an SSE stream of one `data: <JSON>` frame per event followed by `data: [DONE]`.
   */
  | { kind: 'raw'; body?: unknown; events?: unknown[] }
  /**
   * Send `status` (default 200), `headers` and the `body` pieces verbatim (malformed JSON or
   * SSE), one write each, then end the response cleanly (`end: 'end'`, the default), drop the
   * connection without ending a chunked body (`'drop'`), or reset it with a TCP RST (`'reset'`).
   */
  | {
      kind: 'bytes';
      status?: number;
      headers?: Record<string, string>;
      body?: string[];
      end?: 'end' | 'drop' | 'reset';
    };

export interface FakeOpenAI {
  /** Base URL without /v1, e.g. 'http://127.0.0.1:40123'. Clients use `url + '/v1'`. */
  readonly url: string;
  /**
   * The same server over HTTP/2 without TLS (h2c), e.g. 'http://127.0.0.1:40124': the AWS SDK's
   * Bedrock client speaks HTTP/2, so `new BedrockRuntimeClient({ endpoint: fake.bedrockUrl })`.
   */
  readonly bedrockUrl: string;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** Clear recorded requests and queued scripts. */
  reset(): void;
  /** The next request (FIFO) gets this scripted behaviour instead of the default. */
  enqueue(script: Script): void;
  /** Stop listening and destroy open sockets (including hanging responses). Idempotent. */
  close(): Promise<void>;
}

export function startFakeOpenAI(options?: FakeOpenAIOptions): Promise<FakeOpenAI>;

/** Reply words when no token limit is given. */
export const DEFAULT_REPLY_WORDS: 5;
/** Reasoning tokens of a reasoning (o-series) model when no limit is given. */
export const REASONING_TOKENS: 10;
/** Embedding length when the request has no `dimensions`. */
export const DEFAULT_EMBEDDING_DIMENSIONS: 8;

/** Whitespace-separated words in `text` (0 for non-strings). */
export function countWords(text: unknown): number;
/** Words of a message content: a string, or the string `text` fields of an array of parts. */
export function contentWords(content: unknown): number;
/** Chat prompt_tokens: sum over messages of (contentWords(content) + 3). */
export function chatPromptTokens(body: unknown): number;
/** Responses input_tokens: instructions and each input item (or a string input) = words + 3. */
export function responsesInputTokens(body: unknown): number;
/** Embedding tokens: words of each string input; token-array inputs count their length. */
export function embeddingTokens(input: unknown): number;
/** True for o-series model names (/^o\d/). */
export function isReasoningModel(model: unknown): boolean;
/** "Hello", "from", model cycled to exactly `words` words. */
export function replyText(model: string, words: number): string;
/** Reasoning and visible reply tokens for a model under an optional token limit. */
export function planCompletion(
  model: unknown,
  limit: unknown,
): { reasoning: number; words: number; truncated: boolean };
/** floor(promptTokens / 2) when body.prompt_cache_key is a non-empty string, else 0. */
export function cachedTokens(body: unknown, promptTokens: number): number;
/** The deterministic embedding of one input (multiples of 1/256 in [-0.5, 0.5)). */
export function fakeEmbedding(input: unknown, dimensions?: number): number[];
/** Base64 of the little-endian float32 bytes of `values`. */
export function float32Base64(values: number[]): string;
/** OpenAI's default error body (and extra headers) for an HTTP status. */
export function defaultErrorFor(
  status: number,
  requestBody: unknown,
): { body: object; headers: Record<string, string> };

/** Parses the stand-alone command line (`--port`, `--host`, `--chunk-delay-ms`); throws on a bad value. */
export function parseCliArgs(args: string[]): FakeOpenAIOptions;

/*
 * The same process also serves Anthropic Messages and the Gemini API on their real paths
 * (./fake-anthropic.mjs and ./fake-gemini.mjs; their header comments hold the exact accounting
 * rules, their .d.mts files the helpers). On those paths the scripts keep their meaning: `error`
 * sends that API's error shape, `usage` replaces the Anthropic `usage` / Gemini `usageMetadata`
 * verbatim, `raw` events become that API's SSE frames (no [DONE]).
 */
