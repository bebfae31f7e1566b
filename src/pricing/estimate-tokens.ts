import { createRequire } from 'node:module';
import { diag } from '@opentelemetry/api';
import { reportEstimateBounded } from './estimate-bounds.js';

type CountTokens = (text: string) => number;

// The o200k tokenizer tables cost ~170 ms and ~70 MB to load. They are only
// needed when a provider did not report usage (an aborted stream, a server
// that ignores `stream_options`) or a reservation does not fit in what a budget
// has left, so they load on first use, synchronously, because the span they
// feed has to end now.
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

/**
 * Tokens per UTF-16 code unit, at most: a code unit is at most 3 UTF-8 bytes and a
 * token is at least one byte. The length bound of a text is this × its length.
 */
export const TOKENS_PER_CHAR_BOUND = 3;

/**
 * The most text tokenized for one estimate, in UTF-16 code units (16 KiB).
 *
 * Tokenizing runs on the caller's event loop, and its cost grows with the tokens,
 * not the characters: base64-like text (~1.5 characters a token, long runs without
 * spaces) took ~25 ms for 16 KiB, 35–430 ms for 64 KiB and ~0.5 s for 256 KiB on a
 * busy 2-core machine; prose a few milliseconds for 16 KiB. 16 KiB keeps the worst
 * case to a short stall; text past it
 * counts its length bound ({@link TOKENS_PER_CHAR_BOUND} per character), which is
 * never below the real count.
 */
export const MAX_TOKENIZED_CHARS = 16 * 1024;

/**
 * Tokens of `texts`: tokenized exactly while their total length stays within
 * {@link MAX_TOKENIZED_CHARS}; a text that would go past it counts its length bound
 * (and the estimate is counted in `tokenfuse_estimate_bounded_total`).
 */
export function countTokensBounded(texts: readonly string[]): number {
  let left = MAX_TOKENIZED_CHARS;
  let tokens = 0;
  let bounded = false;
  for (const text of texts) {
    if (text.length <= left) {
      tokens += countTokens(text);
      left -= text.length;
    } else {
      tokens += TOKENS_PER_CHAR_BOUND * text.length;
      bounded = true;
      if (!boundLogged) {
        boundLogged = true;
        diag.info(
          `tokenfuse: a text of ${text.length} characters was not tokenized (at most ${MAX_TOKENIZED_CHARS} per estimate, to keep the event loop free); ` +
            `it counts ${TOKENS_PER_CHAR_BOUND} tokens per character, never below the real count. ` +
            `Counted in tokenfuse_estimate_bounded_total{reason="text_past_tokenize_bound"}; logged once`,
        );
      }
    }
  }
  // Once per estimate, however many of its texts were past the bound.
  if (bounded) reportEstimateBounded('text_past_tokenize_bound');
  return tokens;
}

let boundLogged = false;

// OpenAI's documented chat framing: each message costs its content plus ~3
// tokens of role/separators, and the reply is primed with 3 more.
const TOKENS_PER_MESSAGE = 3;
const TOKENS_REPLY_PRIMING = 3;

/**
 * Tokens one image may cost, at most: 85 + 170 × 8 tiles = 1,445 for GPT-4o/4.1 and
 * the o-series at high detail, 1,536 patches × 2.46 = 3,779 for gpt-4.1-nano, the
 * largest of OpenAI's published image costs.
 */
export const IMAGE_TOKENS_BOUND = 4_000;

/**
 * Everything in a request body that the provider bills as input: message text,
 * and the JSON of every other part it reads (tool and function schemas, tool
 * choice, response formats and their JSON schemas, predicted output, tool calls
 * and results in the conversation, audio and file data). The JSON of a part is
 * never shorter than the text the provider makes of it, so its length bounds its
 * tokens the way a message's does.
 */
export interface BilledInput {
  /** Text the provider turns into tokens. */
  texts: string[];
  /** Messages or input items (the length bound adds framing per message). */
  messages: number;
  /** Exact framing tokens, by the API's own rules (message separators, reply priming). */
  framing: number;
  /** Tokens not read from text: images (each {@link IMAGE_TOKENS_BOUND}) and token-id inputs. */
  extraTokens: number;
  /**
   * The provider also reads input the body only refers to (`previous_response_id`,
   * `conversation`, a stored `prompt`, an uploaded file, an item reference), or a part
   * could not be serialized: the body gives no bound.
   */
  unseen: boolean;
}

class Collector implements BilledInput {
  texts: string[] = [];
  messages = 0;
  framing = 0;
  extraTokens = 0;
  unseen = false;

  text(value: string): void {
    if (value !== '') this.texts.push(value);
  }

  json(value: unknown): void {
    if (value === undefined || value === null) return;
    if (typeof value === 'string') {
      this.text(value);
      return;
    }
    let json: string | undefined;
    try {
      json = JSON.stringify(value);
    } catch {
      // A cycle or a BigInt: the SDK cannot send it either, but nothing here bounds it.
      this.unseen = true;
      return;
    }
    if (json !== undefined) this.text(json);
  }

  content(content: unknown): void {
    if (typeof content === 'string') this.text(content);
    else if (!Array.isArray(content)) this.json(content);
    else
      for (const part of content) {
        if (typeof part === 'string') this.text(part);
        else if (part && typeof part === 'object') this.part(part as Record<string, unknown>);
        else this.json(part);
      }
  }

  private part(p: Record<string, unknown>): void {
    if (typeof p.text === 'string') {
      this.text(p.text);
      return;
    }
    if (
      p.type === 'image_url' ||
      p.type === 'input_image' ||
      p.type === 'image' ||
      p.image_url !== undefined
    ) {
      // Billed by size in tiles or patches, not by the length of its URL or data.
      this.extraTokens += IMAGE_TOKENS_BOUND;
      if (typeof p.file_id === 'string') this.unseen = true;
      return;
    }
    const file = (p.file ?? p) as { file_id?: unknown; file_data?: unknown };
    if (typeof file.file_id === 'string' && file.file_data === undefined) this.unseen = true;
    // An Anthropic document read from a URL or an uploaded file.
    const source = p.source as { type?: unknown } | null | undefined;
    if (source?.type === 'url' || source?.type === 'file') this.unseen = true;
    if (p.content !== undefined) this.content(p.content);
    else this.json(p);
  }

  /** A chat message or a Responses message item: its content and every other field. */
  message(m: unknown): void {
    this.messages += 1;
    if (!m || typeof m !== 'object') {
      this.json(m);
      return;
    }
    const item = m as Record<string, unknown>;
    if (item.type === 'item_reference') {
      this.unseen = true;
      return;
    }
    for (const [key, value] of Object.entries(item)) {
      if (key === 'role' || key === 'type') continue;
      if (key === 'content') this.content(value);
      else if (value !== undefined && value !== null) this.json({ [key]: value });
    }
  }
}

const CHAT_BILLED_PARTS = [
  'tools',
  'functions',
  'tool_choice',
  'function_call',
  'response_format',
  'prediction',
] as const;
const RESPONSES_BILLED_PARTS = ['tools', 'tool_choice', 'text'] as const;
const MESSAGES_BILLED_PARTS = ['tools', 'tool_choice', 'output_config', 'output_format'] as const;
const RESPONSES_UNSEEN_PARTS = ['previous_response_id', 'conversation', 'prompt'] as const;

/** The billed input of a chat completions body. */
export function chatBilledInput(body: any): BilledInput {
  const c = new Collector();
  const messages = body?.messages;
  if (Array.isArray(messages)) {
    for (const m of messages) c.message(m);
    if (messages.length > 0)
      c.framing = TOKENS_REPLY_PRIMING + TOKENS_PER_MESSAGE * messages.length;
  } else c.json(messages);
  for (const key of CHAT_BILLED_PARTS) c.json(body?.[key]);
  return c;
}

/**
 * The billed input of an Anthropic Messages body (`system`, `messages`, tools).
 * Anthropic documents no per-message framing, so none is added.
 */
export function messagesBilledInput(body: any): BilledInput {
  const c = new Collector();
  c.content(body?.system);
  const messages = body?.messages;
  if (Array.isArray(messages)) for (const m of messages) c.message(m);
  else c.json(messages);
  for (const key of MESSAGES_BILLED_PARTS) c.json(body?.[key]);
  // The tools of MCP servers are billed but read by the provider, not sent.
  if (body?.mcp_servers != null) c.unseen = true;
  return c;
}

/** The billed input of a Responses API body (`input`, `instructions`, tools, text format…). */
export function responsesBilledInput(body: any): BilledInput {
  const c = new Collector();
  const input = body?.input;
  if (typeof body?.instructions === 'string') c.text(body.instructions);
  else c.json(body?.instructions);
  if (Array.isArray(input)) {
    for (const item of input) {
      if (typeof item === 'string') {
        c.messages += 1;
        c.text(item);
      } else c.message(item);
    }
    c.framing = TOKENS_REPLY_PRIMING + TOKENS_PER_MESSAGE * input.length;
  } else {
    c.messages = 1;
    c.json(input);
  }
  for (const key of RESPONSES_BILLED_PARTS) c.json(body?.[key]);
  for (const key of RESPONSES_UNSEEN_PARTS) {
    if (body?.[key] !== undefined && body?.[key] !== null) {
      c.unseen = true;
      c.json(body[key]);
    }
  }
  return c;
}

/** The billed input of an embeddings body (a string, strings, or token-id arrays). */
export function embeddingsBilledInput(body: any): BilledInput {
  const c = new Collector();
  const input = body?.input;
  if (Array.isArray(input)) {
    c.messages = input.length;
    for (const item of input) {
      if (typeof item === 'string') c.text(item);
      else if (typeof item === 'number')
        c.extraTokens += 1; // a token id
      else if (Array.isArray(item))
        c.extraTokens += item.length; // token ids
      else c.json(item);
    }
  } else {
    c.messages = 1;
    c.json(input);
  }
  return c;
}

/**
 * Upper bound of the input tokens, from lengths alone: {@link TOKENS_PER_CHAR_BOUND} ×
 * the characters of every billed text, plus 3 framing tokens per message and 3 for
 * the reply, plus images and token ids. Of what the body shows: see `unseen`.
 */
export function inputLengthBound(input: BilledInput): number {
  let chars = 0;
  for (const text of input.texts) chars += text.length;
  return (
    TOKENS_PER_CHAR_BOUND * chars + TOKENS_PER_MESSAGE * (input.messages + 1) + input.extraTokens
  );
}

/** Input tokens, tokenized (within {@link MAX_TOKENIZED_CHARS}); what the body shows when `unseen`. */
export function inputTokenCount(input: BilledInput): number {
  return countTokensBounded(input.texts) + input.framing + input.extraTokens;
}

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
