/**
 * The Batch API's files and metadata, as data: attribution stamped into and read
 * back from a batch's `metadata`, a batch's input folded into one call for its
 * admission estimate, and the lines of a result file.
 */

import { TAG_NAMES } from '../../../attribution/tags.js';
import type { TagName, Tags } from '../../../types.js';
import type { OperationAdapter } from '../../sdk-adapter.js';
import { chatAdapter } from '../chat.js';
import { embeddingsAdapter } from '../embeddings.js';
import { isPlainObject } from '../read.js';
import { responsesAdapter } from '../responses.js';

/** Metadata limits of the OpenAI API. */
export const METADATA_MAX_KEYS = 16;
export const METADATA_MAX_KEY_LENGTH = 64;
export const METADATA_MAX_VALUE_LENGTH = 512;

/** Metadata key holding a tag: `tokenfuse_department`, … */
export function metadataKey(tag: TagName): string {
  return `tokenfuse_${tag}`;
}

/** Span attributes of a batch result read. */
export const BATCH_ATTR = {
  batchId: 'tokenfuse.batch.id',
  fileId: 'tokenfuse.batch.file_id',
  lines: 'tokenfuse.batch.lines',
  failedLines: 'tokenfuse.batch.lines_failed',
  alreadyCounted: 'tokenfuse.batch.already_counted',
} as const;

/** Result files remembered as counted, and file → batch entries kept, per process. */
export const MAX_REMEMBERED = 10_000;

const ADAPTERS: Record<string, OperationAdapter> = {
  '/v1/chat/completions': chatAdapter,
  '/v1/responses': responsesAdapter,
  '/v1/embeddings': embeddingsAdapter,
};

/** What the results of a batch are attributed and priced by. */
export interface BatchInfo {
  id: string;
  endpoint: string | undefined;
  tags: Tags;
  /** Seconds since the epoch; prices are taken at the batch's creation. */
  createdAt: number | undefined;
}

/** Output tokens reserved for a batch line that sets no limit. */
const UNBOUNDED_LINE_OUTPUT = 256;
/**
 * A batch's input lines folded into one call body of its endpoint's API, for the
 * admission estimate (OpenAI runs a batch on one model and one endpoint).
 */
export function foldBatchInput(
  text: string,
  endpoint: string,
): { adapter: OperationAdapter; model: string; body: any } | undefined {
  const adapter = ADAPTERS[endpoint];
  if (adapter === undefined) return undefined;
  let model: string | undefined;
  const messages: unknown[] = [];
  const inputs: unknown[] = [];
  let output = 0;
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    let line: any;
    try {
      line = JSON.parse(raw);
    } catch {
      continue;
    }
    const body = line?.body;
    if (!isPlainObject(body)) continue;
    if (model === undefined && typeof body.model === 'string') model = body.model;
    if (Array.isArray(body.messages)) messages.push(...body.messages);
    if (typeof body.instructions === 'string')
      inputs.push({ role: 'system', content: body.instructions });
    if (Array.isArray(body.input)) inputs.push(...body.input);
    else if (typeof body.input === 'string')
      inputs.push(
        adapter === embeddingsAdapter ? body.input : { role: 'user', content: body.input },
      );
    const max = adapter.maxOutputTokens(body);
    output += max.kind === 'set' ? max.tokens : UNBOUNDED_LINE_OUTPUT;
  }
  if (model === undefined) return undefined;
  if (adapter === chatAdapter)
    return { adapter, model, body: { model, messages, max_completion_tokens: output } };
  if (adapter === responsesAdapter)
    return { adapter, model, body: { model, input: inputs, max_output_tokens: output } };
  return { adapter, model, body: { model, input: inputs } };
}

/** One line of a batch output or error file. */
export interface ResultLine {
  id?: string;
  custom_id?: string;
  response?: { status_code?: number; request_id?: string; body?: any } | null;
  error?: { code?: string; message?: string } | null;
}

/** The lines of a batch result file, or undefined when the text is not one. */
export function parseResultLines(text: string): ResultLine[] | undefined {
  const lines: ResultLine[] = [];
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    let line: unknown;
    try {
      line = JSON.parse(raw);
    } catch {
      return undefined;
    }
    if (
      !isPlainObject(line) ||
      typeof line.custom_id !== 'string' ||
      !('response' in line || 'error' in line)
    ) {
      return undefined;
    }
    lines.push(line as ResultLine);
  }
  return lines.length > 0 ? lines : undefined;
}

export function batchInfo(b: any): BatchInfo | undefined {
  if (typeof b?.id !== 'string') return undefined;
  const metadata = isPlainObject(b.metadata) ? b.metadata : {};
  const tags: Tags = {};
  for (const tag of TAG_NAMES) {
    const value = metadata[metadataKey(tag)];
    if (typeof value === 'string' && value !== '') tags[tag] = value;
  }
  return {
    id: b.id,
    endpoint: typeof b.endpoint === 'string' ? b.endpoint : undefined,
    tags,
    createdAt: typeof b.created_at === 'number' ? b.created_at : undefined,
  };
}

/** The adapter by the batch's endpoint, else by the shape of the body. */
export function adapterFor(endpoint: string | undefined, body: any): OperationAdapter | undefined {
  if (endpoint !== undefined && ADAPTERS[endpoint]) return ADAPTERS[endpoint];
  if (body?.object === 'chat.completion') return chatAdapter;
  if (body?.object === 'response') return responsesAdapter;
  if (body?.object === 'list') return embeddingsAdapter;
  return undefined;
}

export function errorTypeOf(line: ResultLine): string {
  const code =
    line.error?.code ?? line.response?.body?.error?.code ?? line.response?.body?.error?.type;
  if (typeof code === 'string' && code !== '') return code;
  const status = line.response?.status_code;
  return typeof status === 'number' ? String(status) : '_OTHER';
}

export function remember(set: Set<string>, key: string): void {
  if (set.size >= MAX_REMEMBERED) set.delete(set.values().next().value as string);
  set.add(key);
}
