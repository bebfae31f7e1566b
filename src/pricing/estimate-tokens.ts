import { createRequire } from 'node:module';

type CountTokens = (text: string) => number;

// The o200k tokenizer tables cost ~170 ms and ~70 MB to load. They are only
// needed when a provider did not report usage (an aborted stream, a server
// that ignores `stream_options`), so they load on first use, synchronously,
// because the span they feed has to end now.
let countTokensImpl: CountTokens | undefined;

function tokenizer(): CountTokens {
  if (countTokensImpl === undefined) {
    const require = createRequire(import.meta.url);
    countTokensImpl = (require('gpt-tokenizer/encoding/o200k_base') as { countTokens: CountTokens })
      .countTokens;
  }
  return countTokensImpl;
}

/** Counts the tokens of `text` with the o200k_base encoding (GPT-4o, GPT-4.1, o-series, GPT-5). */
export function countTokens(text: string): number {
  return text === '' ? 0 : tokenizer()(text);
}

// OpenAI's documented chat framing: each message costs its content plus ~3
// tokens of role/separators, and the reply is primed with 3 more.
const TOKENS_PER_MESSAGE = 3;
const TOKENS_REPLY_PRIMING = 3;

/** Collects the text of message content in any of the SDK's shapes (string, parts array). */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    let text = '';
    for (const part of content) {
      if (typeof part === 'string') text += part;
      else if (part && typeof part === 'object') {
        const p = part as { text?: unknown; content?: unknown };
        if (typeof p.text === 'string') text += p.text;
        else if (p.content !== undefined) text += contentText(p.content);
      }
    }
    return text;
  }
  return '';
}

/** Estimates the input tokens of a chat request's messages. */
export function estimateChatInputTokens(
  messages: ReadonlyArray<{ content?: unknown }> | undefined,
): number {
  if (!messages || messages.length === 0) return 0;
  let tokens = TOKENS_REPLY_PRIMING;
  for (const message of messages)
    tokens += TOKENS_PER_MESSAGE + countTokens(contentText(message.content));
  return tokens;
}

/** Estimates the input tokens of a Responses API `input` (string or list of items) plus `instructions`. */
export function estimateResponsesInputTokens(input: unknown, instructions?: string | null): number {
  let tokens = instructions ? countTokens(instructions) : 0;
  if (typeof input === 'string') return tokens + countTokens(input);
  if (Array.isArray(input)) {
    tokens += TOKENS_REPLY_PRIMING;
    for (const item of input) {
      if (item && typeof item === 'object') {
        tokens +=
          TOKENS_PER_MESSAGE + countTokens(contentText((item as { content?: unknown }).content));
      } else if (typeof item === 'string') tokens += countTokens(item);
    }
  }
  return tokens;
}

/** Estimates the input tokens of an embeddings `input` (string or list of strings). */
export function estimateEmbeddingInputTokens(input: unknown): number {
  if (typeof input === 'string') return countTokens(input);
  if (Array.isArray(input)) {
    let tokens = 0;
    for (const item of input) {
      if (typeof item === 'string') tokens += countTokens(item);
      else if (Array.isArray(item))
        tokens += item.length; // already token ids
      else if (typeof item === 'number') tokens += 1;
    }
    return tokens;
  }
  return 0;
}
