/**
 * A call's span attributes: those given at the span's start (the sampling-relevant ones)
 * and those set on the started span (what the call is, who it is for, what it asked).
 */
import type { AttributeValue, Span } from '@opentelemetry/api';
import { ATTR } from '../accounting/span-attributes.js';
import { TAG_ATTRIBUTES, TAG_NAMES } from '../attribution/tags.js';
import { internalError } from '../internal-errors.js';
import type { Tags } from '../types.js';
import type { AttributeSink, OperationAdapter } from './sdk-adapter.js';

/*
 * Why the start attributes have one shape, kept alive by `StartAttributes.shape`, and the other
 * attributes are written to the span itself, not gathered in an object first: an object
 * that gets its properties one by one after it is made goes through a hidden class per
 * property, and V8 keeps those classes only while some object has them. The per-call
 * attribute objects call-start.ts made died within the call, so at a full collection with none
 * alive V8 dropped their classes and threw away the optimised code of `start` and
 * `finishStart` that had been compiled for them: every 35,000 to 40,000 calls, each time
 * followed by some 10,000 calls of slower code until it was compiled again
 * (docs/performance.md, _s11: hidden classes that die_).
 */

/**
 * The sampling-relevant span attributes of a call, given at the span's start (see above:
 * one shape; and made with `new`, not a literal: call-start.ts says why). A key the call
 * has no value for stays `undefined`, which the OpenTelemetry SDK skips, as it skips an
 * absent key.
 */
export class StartAttributes {
  /** Keeps this class's hidden class alive between calls (see above); holds no call's values. */
  static readonly shape = new StartAttributes(
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
  );
  [key: string]: AttributeValue | undefined;
  'gen_ai.operation.name': string | undefined;
  'gen_ai.provider.name': string | undefined;
  'gen_ai.request.model': string | undefined;
  'server.address': string | undefined;
  'server.port': number | undefined;
  constructor(
    operation: string | undefined,
    providerName: string | undefined,
    model: string | undefined,
    serverAddress: string | undefined,
    serverPort: number | undefined,
  ) {
    this['gen_ai.operation.name' satisfies typeof ATTR.operationName] = operation;
    this['gen_ai.provider.name' satisfies typeof ATTR.providerName] = providerName;
    this['gen_ai.request.model' satisfies typeof ATTR.requestModel] = model;
    this['server.address' satisfies typeof ATTR.serverAddress] = serverAddress;
    this['server.port' satisfies typeof ATTR.serverPort] = serverPort;
  }
}

/** What a started call's later span attributes are read from (the call's own state). */
export interface LaterAttributeSource {
  readonly adapter: OperationAdapter;
  readonly provider: string;
  /** The body as the caller wrote it. */
  readonly requestBody: unknown;
  readonly tags: Tags;
  readonly defaultTags: Tags;
  readonly apiKeyFingerprint: string | undefined;
  readonly apiKeyId: string | undefined;
  readonly apiKeyName: string | undefined;
  readonly captureContent: boolean;
}

/**
 * The span attributes set once the span has started: what the call is (API, provider,
 * the request's own), who it is for (tags, API key) and what it asked (content, opted in).
 * Never throws: the call goes on, its span short of what could not be read.
 */
export function writeLaterAttributes(
  span: Span,
  p: LaterAttributeSource,
  wouldBlock: string[] | undefined,
): void {
  try {
    span.setAttribute(ATTR.api, p.adapter.api);
    span.setAttribute(ATTR.provider, p.provider);
    p.adapter.writeRequestAttributes(span, p.requestBody);
    writeTagAttributes(span, p.tags, p.defaultTags);
    if (p.apiKeyFingerprint) span.setAttribute(ATTR.apiKeyFingerprint, p.apiKeyFingerprint);
    if (p.apiKeyId !== undefined) span.setAttribute(ATTR.apiKeyId, p.apiKeyId);
    if (p.apiKeyName !== undefined) span.setAttribute(ATTR.apiKeyName, p.apiKeyName);
    if (p.captureContent) span.setAttribute(ATTR.inputMessages, p.adapter.inputText(p.requestBody));
    if (wouldBlock !== undefined && wouldBlock.length > 0)
      span.setAttribute(ATTR.wouldBlock, wouldBlock);
  } catch (err) {
    internalError(
      'instrumentation',
      'reading an LLM request for its span failed; the call itself goes on',
      err,
    );
  }
}

/** The tag attributes of the config defaults, made once per defaults object. */
const defaultTagAttributes = new WeakMap<Tags, [string, string][]>();

/**
 * Writes the tags' span attributes. Tags that are the config defaults themselves (no
 * baggage, header or key owner changed them: the usual call) are written from a list
 * made once, not looked up name by name.
 */
function writeTagAttributes(span: AttributeSink, tags: Tags, defaults: Tags): void {
  if (tags === defaults) {
    let pairs = defaultTagAttributes.get(defaults);
    if (pairs === undefined) {
      pairs = [];
      for (const name of TAG_NAMES) {
        const value = defaults[name];
        if (value !== undefined) pairs.push([TAG_ATTRIBUTES[name], value]);
      }
      defaultTagAttributes.set(defaults, pairs);
    }
    for (let i = 0; i < pairs.length; i++) span.setAttribute(pairs[i]![0], pairs[i]![1]);
    return;
  }
  // An index loop: `for…of` here kept an iterator per call.
  for (let i = 0; i < TAG_NAMES.length; i++) {
    const name = TAG_NAMES[i]!;
    const value = tags[name];
    if (value !== undefined) span.setAttribute(TAG_ATTRIBUTES[name], value);
  }
}
