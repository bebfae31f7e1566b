import { type DiagLogger, DiagLogLevel, diag } from '@opentelemetry/api';
import type OpenAIType from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type FakeOpenAI,
  type Script,
  startFakeOpenAI,
} from '../../examples/shared/fake-openai-server.mjs';
import { createHarness, type Harness } from '../helpers/harness.js';
import { sum } from '../helpers/prom-text.js';

const PROVIDERS = [{ id: 'local-relay', hosts: ['127.0.0.1'], pricesFrom: 'openai' as const }];
const LABELS = {
  department: 'unknown',
  project: 'unknown',
  environment: 'unknown',
  provider: 'local-relay',
  model: 'gpt-4.1',
};

/** Every diag message, at every level, as text (arguments and error stacks included). */
const diagged: string[] = [];
const recorder: DiagLogger = Object.fromEntries(
  ['error', 'warn', 'info', 'debug', 'verbose'].map((level) => [
    level,
    (message: string, ...args: unknown[]) => {
      diagged.push(
        [level, message, ...args.map((a) => (a instanceof Error ? `${a.stack}` : String(a)))].join(
          ' ',
        ),
      );
    },
  ]),
) as unknown as DiagLogger;

let llm: FakeOpenAI;
let h: Harness;
let openai: OpenAIType;

beforeAll(async () => {
  llm = await startFakeOpenAI();
});
afterAll(async () => {
  await llm.close();
});

// "hello there" estimated with o200k: 2 tokens + 3 per message + 3 priming.
const HELLO_THERE_ESTIMATE = 8;
const ERROR_CLASSES = {
  SyntaxError: () => SyntaxError,
  TypeError: () => TypeError,
  APIError: (harness: Harness) => harness.OpenAI.APIError,
};

/** Ends-once check: the SDK logs through diag when a span is ended a second time. */
function expectNoDoubleEnd(): void {
  expect(diagged.filter((line) => /end\(\) on a span once|ended Span/i.test(line))).toEqual([]);
}

describe('in-process', () => {
  beforeEach(async () => {
    llm.reset();
    diagged.length = 0;
    diag.setLogger(recorder, DiagLogLevel.ALL);
    h = await createHarness({
      providers: PROVIDERS,
      budgets: [{ name: 'all', window: 'hour', limit: { tokens: 1e9 } }],
    });
    openai = new h.OpenAI({ baseURL: `${llm.url}/v1`, apiKey: 'sk-test-hostile', maxRetries: 0 });
  });
  afterEach(async () => {
    await h.close();
    diag.disable();
  });

  const ask = (extra: Record<string, unknown> = {}, options?: Record<string, unknown>) =>
    openai.chat.completions.create(
      {
        model: 'gpt-4.1',
        messages: [{ role: 'user', content: 'hello there' }],
        max_tokens: 4,
        ...extra,
      } as never,
      options,
    ) as Promise<any>;

  /** Reads a stream to its end; resolves to the text, or rejects with the stream's error. */
  async function drain(stream: AsyncIterable<any>): Promise<string> {
    let text = '';
    for await (const chunk of stream) text += chunk.choices?.[0]?.delta?.content ?? '';
    return text;
  }

  /** The one call's account: requests by outcome, its one span, and nothing reserved. */
  async function accountOfOneCall() {
    const m = await h.scrape();
    const spans = h.spans();
    expect(spans).toHaveLength(1);
    expectNoDoubleEnd();
    expect(h.tokenfuse.fuses.get('all').reserved).toEqual({ tokens: 0, usd: 0, requests: 0 });
    return {
      ok: sum(m, 'tokenfuse_requests_total', { ...LABELS, outcome: 'ok' }),
      error: sum(m, 'tokenfuse_requests_total', { ...LABELS, outcome: 'error' }),
      all: sum(m, 'tokenfuse_requests_total'),
      input: sum(m, 'tokenfuse_tokens_total', { ...LABELS, type: 'input' }),
      output: sum(m, 'tokenfuse_tokens_total', { ...LABELS, type: 'output' }),
      span: spans[0]!,
    };
  }

  const SSE = { 'content-type': 'text/event-stream' };
  const JSON_TYPE = { 'content-type': 'application/json' };
  const chunk = (delta: object, extra: object = {}) =>
    `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4.1', choices: [{ index: 0, delta, finish_reason: null }], ...extra })}\n\n`;
  const usageChunk = `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4.1', choices: [], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } })}\n\n`;

  describe('malformed responses: the SDK error reaches the caller, the call counts once as an error', () => {
    const cases: Array<{
      name: string;
      stream: boolean;
      script: Script;
      error: [keyof typeof ERROR_CLASSES, string];
      streamed?: boolean;
    }> = [
      {
        name: 'truncated JSON body',
        stream: false,
        script: { kind: 'raw', headers: JSON_TYPE, body: ['{"id":"chatcmpl-1","choices":[{"ind'] },
        error: ['SyntaxError', 'Unterminated string in JSON at position 35 (line 1 column 36)'],
      },
      {
        name: 'an HTML page served as JSON',
        stream: false,
        script: {
          kind: 'raw',
          headers: JSON_TYPE,
          body: ['<html><body>Bad gateway</body></html>'],
        },
        error: ['SyntaxError', `Unexpected token '<', "<html><bod"... is not valid JSON`],
      },
      {
        name: 'connection reset after half the JSON body',
        stream: false,
        script: { kind: 'raw', headers: JSON_TYPE, body: ['{"id":"chatcmpl-1",'], end: 'reset' },
        error: ['TypeError', 'terminated'],
      },
      {
        name: 'SSE: a data line with truncated JSON',
        stream: true,
        script: {
          kind: 'raw',
          headers: SSE,
          body: [chunk({ role: 'assistant', content: '' }), 'data: {"id":"c1","choices":[{\n\n'],
        },
        error: ['SyntaxError', 'Error reading response: malformed server-sent event JSON.'],
      },
      {
        name: 'SSE: an error event after some output',
        stream: true,
        script: {
          kind: 'raw',
          headers: SSE,
          body: [
            chunk({ content: 'Hi' }),
            'event: error\ndata: {"error":{"message":"upstream failed","type":"server_error"}}\n\n',
          ],
        },
        error: ['APIError', 'upstream failed'],
        streamed: true,
      },
      {
        name: 'SSE: connection reset midway',
        stream: true,
        script: {
          kind: 'raw',
          headers: SSE,
          body: [chunk({ role: 'assistant', content: '' }), chunk({ content: 'Hello' })],
          end: 'reset',
        },
        error: ['TypeError', 'terminated'],
        streamed: true,
      },
    ];

    it.each(cases)('$name', async ({ stream, script, error: [errorClass, message], streamed }) => {
      llm.enqueue(script);
      const err = await (stream ? ask({ stream: true }).then(drain) : ask()).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ERROR_CLASSES[errorClass](h));
      expect((err as Error).constructor.name).toBe(errorClass);
      expect((err as Error).message).toBe(message);

      const { ok, error, all, input, span } = await accountOfOneCall();
      expect({ ok, error, all }).toEqual({ ok: 0, error: 1, all: 1 });
      expect(span.attributes['error.type']).toBe(errorClass);
      expect(span.status).toEqual({ code: 2, message });
      // What streamed before the failure was billed: counted from an estimate, and said so.
      if (streamed) {
        expect(span.attributes['tokenfuse.usage.estimated']).toBe(true);
        expect(input).toBe(HELLO_THERE_ESTIMATE);
      } else {
        expect(span.attributes['tokenfuse.usage.estimated']).toBeUndefined();
        expect(input).toBe(0);
      }
    });
  });

  describe('odd but readable SSE: the stream works and the call counts once as ok', () => {
    it('comments, unknown fields and lines without a colon between the events are skipped', async () => {
      llm.enqueue({
        kind: 'raw',
        headers: SSE,
        body: [
          ': keep-alive comment\n\n',
          'a garbage line without a colon\n\n',
          chunk({ role: 'assistant', content: '' }),
          'retry: 10\nfoo: bar\n\n',
          chunk({ content: 'Hi there' }),
          usageChunk,
          'data: [DONE]\n\n',
        ],
      });
      expect(await ask({ stream: true }).then(drain)).toBe('Hi there');
      const { ok, all, input, output, span } = await accountOfOneCall();
      expect({ ok, all, input, output }).toEqual({ ok: 1, all: 1, input: 5, output: 2 });
      expect(span.attributes['tokenfuse.usage.estimated']).toBe(false);
    });

    it('a stream that ends without [DONE] keeps the usage it received', async () => {
      llm.enqueue({
        kind: 'raw',
        headers: SSE,
        body: [chunk({ role: 'assistant', content: '' }), chunk({ content: 'Hi' }), usageChunk],
      });
      expect(await ask({ stream: true }).then(drain)).toBe('Hi');
      const { ok, all, input, output, span } = await accountOfOneCall();
      expect({ ok, all, input, output }).toEqual({ ok: 1, all: 1, input: 5, output: 2 });
      expect(span.attributes['tokenfuse.usage.estimated']).toBe(false);
    });

    it('frames without `data:` carry nothing: the empty stream is counted from an estimate', async () => {
      llm.enqueue({
        kind: 'raw',
        headers: SSE,
        body: [
          chunk({ content: 'Hi' }).slice('data: '.length),
          usageChunk.slice('data: '.length),
          'data: [DONE]\n\n',
        ],
      });
      expect(await ask({ stream: true }).then(drain)).toBe('');
      const { ok, all, input, output, span } = await accountOfOneCall();
      expect({ ok, all, input, output }).toEqual({
        ok: 1,
        all: 1,
        input: HELLO_THERE_ESTIMATE,
        output: 0,
      });
      expect(span.attributes['tokenfuse.usage.estimated']).toBe(true);
    });
  });

  describe('aborts and leaving a stream early: counted once, span ended once', () => {
    it('an AbortController aborted before the call: APIUserAbortError, one error, no request sent', async () => {
      const controller = new AbortController();
      controller.abort();
      const err = await ask({}, { signal: controller.signal }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(h.OpenAI.APIUserAbortError);
      expect(llm.requests).toHaveLength(0);
      const { ok, error, all, input, span } = await accountOfOneCall();
      expect({ ok, error, all, input }).toEqual({ ok: 0, error: 1, all: 1, input: 0 });
      expect(span.attributes['error.type']).toBe('APIUserAbortError');
    });

    it('an AbortController aborted mid-stream: the SDK ends the stream quietly; usage is estimated', async () => {
      const slow = await startFakeOpenAI({ chunkDelayMs: 20 });
      try {
        const client = new h.OpenAI({ baseURL: `${slow.url}/v1`, apiKey: 'sk-x', maxRetries: 0 });
        const controller = new AbortController();
        const stream = await client.chat.completions.create(
          {
            model: 'gpt-4.1',
            messages: [{ role: 'user', content: 'hello there' }],
            max_tokens: 50,
            stream: true,
          },
          { signal: controller.signal },
        );
        let text = '';
        for await (const c of stream) {
          text += c.choices[0]?.delta?.content ?? '';
          if (text.split(' ').length === 3) controller.abort();
        }
        expect(text).toBe('Hello from gpt-4.1');
      } finally {
        await slow.close();
      }
      const { ok, all, input, output, span } = await accountOfOneCall();
      const { countTokens } = await import('gpt-tokenizer/encoding/o200k_base');
      expect({ ok, all, input, output }).toEqual({
        ok: 1,
        all: 1,
        input: HELLO_THERE_ESTIMATE,
        output: countTokens('Hello from gpt-4.1'),
      });
      expect(span.attributes['tokenfuse.usage.estimated']).toBe(true);
    });

    it('a throw inside the for-await body: the caller gets its own error; the call counts once, estimated', async () => {
      const thrown = new Error('app failed while reading');
      const stream = await ask({ stream: true, max_tokens: 20 });
      const err = await (async () => {
        let n = 0;
        for await (const _ of stream) if (++n === 3) throw thrown;
      })().catch((e: unknown) => e);
      expect(err).toBe(thrown);
      const { ok, error, all, input, span } = await accountOfOneCall();
      expect({ ok, error, all, input }).toEqual({
        ok: 1,
        error: 0,
        all: 1,
        input: HELLO_THERE_ESTIMATE,
      });
      expect(span.attributes['tokenfuse.stream.abandoned']).toBe(true);
      expect(span.attributes['tokenfuse.usage.estimated']).toBe(true);
    });

    it('aborting, or iterating again, after the stream ended changes nothing', async () => {
      const controller = new AbortController();
      const stream = await ask({ stream: true }, { signal: controller.signal });
      expect(await drain(stream)).toBe('Hello from gpt-4.1 Hello');
      controller.abort();
      stream.controller.abort();
      await expect(drain(stream)).rejects.toThrow(
        'Cannot iterate over a consumed stream, use `.tee()` to split the stream.',
      );
      const { ok, all, input, output, span } = await accountOfOneCall();
      expect({ ok, all, input, output }).toEqual({ ok: 1, all: 1, input: 5, output: 4 });
      expect(span.attributes['tokenfuse.usage.estimated']).toBe(false);
    });

    it('200 concurrent streams, a third aborted, a third left by break: 200 counted, 200 spans, nothing reserved', async () => {
      const run = async (i: number) => {
        const controller = new AbortController();
        const stream = await ask({ stream: true, max_tokens: 6 }, { signal: controller.signal });
        let n = 0;
        for await (const _ of stream) {
          n++;
          if (i % 3 === 0 && n === 2) controller.abort();
          if (i % 3 === 1 && n === 2) break;
        }
      };
      await Promise.all(Array.from({ length: 200 }, (_, i) => run(i)));
      const m = await h.scrape();
      expect(sum(m, 'tokenfuse_requests_total')).toBe(200);
      expect(sum(m, 'tokenfuse_requests_total', { outcome: 'ok' })).toBe(200);
      expect(h.spans()).toHaveLength(200);
      expect(new Set(h.spans().map((s) => s.spanContext().spanId)).size).toBe(200);
      expectNoDoubleEnd();
      expect(h.tokenfuse.fuses.get('all').reserved).toEqual({ tokens: 0, usd: 0, requests: 0 });
    });
  });
});
