/**
 * Our own copies of the `openai` SDK shapes tokenfuse reads. `openai` is only a
 * dev/peer dependency: nothing here imports it at run time, and only the fields
 * we use are declared (all optional where the wire format allows absence). The
 * `usage` objects are defined once, beside the readers that read them.
 */

import type {
  ChatCompletionUsageLike,
  EmbeddingsUsageLike,
  ResponsesUsageLike,
} from './pricing/usage.js';

export interface ChatMessageParam {
  role?: string;
  content?: unknown;
}

export interface ChatCompletionCreateBody {
  model?: string;
  messages?: ChatMessageParam[];
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean | null } | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  temperature?: number | null;
  [key: string]: unknown;
}

export interface ResponsesCreateBody {
  model?: string;
  input?: unknown;
  instructions?: string | null;
  stream?: boolean | null;
  max_output_tokens?: number | null;
  [key: string]: unknown;
}

export interface EmbeddingsCreateBody {
  model?: string;
  input?: unknown;
  [key: string]: unknown;
}

export interface ChatCompletion {
  id?: string;
  model?: string;
  choices?: Array<{ finish_reason?: string | null; message?: { content?: string | null } }>;
  usage?: ChatCompletionUsageLike | null;
}

export interface ChatCompletionChunk {
  id?: string;
  model?: string;
  choices?: Array<{ finish_reason?: string | null; delta?: { content?: string | null } }>;
  usage?: ChatCompletionUsageLike | null;
}

export interface ResponseObject {
  id?: string;
  model?: string;
  status?: string;
  usage?: ResponsesUsageLike | null;
  output_text?: string;
  output?: Array<{ type?: string; content?: Array<{ type?: string; text?: string }> }>;
}

export interface ResponseStreamEvent {
  type?: string;
  delta?: string;
  response?: ResponseObject;
}

export interface CreateEmbeddingResponse {
  model?: string;
  usage?: EmbeddingsUsageLike | null;
}

/** The parts of an SDK resource (`client.chat.completions`, …) a patched method sees as `this`. */
export interface SdkResource {
  _client?: { baseURL?: string; apiKey?: unknown };
}

/** The SDK's `APIPromise`: a Promise subclass whose parsing is lazy. */
export interface ApiPromiseLike<T = unknown> extends Promise<T> {
  responsePromise: Promise<unknown>;
  /** openai 5+: `(client, props)`; openai 4: `(props)`. */
  parseResponse: (...args: unknown[]) => unknown;
  parsedPromise?: Promise<T>;
  asResponse(): Promise<unknown>;
  /** Derives a promise that transforms the parsed result (v7 defines it per instance). */
  _thenUnwrap?: (transform: (result: any, props: any) => unknown) => unknown;
}

/** The SDK's `Stream`: iterates through `this.iterator()`, which `tee()` and `toReadableStream()` use too. */
export interface SdkStreamLike {
  iterator: () => AsyncIterator<unknown>;
  controller?: AbortController;
}
