// Hostile input that tokenfuse already withstands, kept here so it keeps withstanding it.
// Everything goes through the real `openai` SDK over HTTP to the fake server; the in-process
// harness gives exact spans, diag output and /metrics, and a real app started with
// `--import tokenfuse/register` (scraped by a real Prometheus) covers what a user runs.
// Needs `npm run build` first (the app resolves `tokenfuse` to dist/).
//
// Already covered elsewhere and not repeated here (test/instrumentation-chat.test.ts):
// `break` out of a stream, a stream cut by a dropped connection, an abort while waiting for
// the response headers, a client timeout, 429/500 errors; (test/attribution.test.ts) empty
// attribution headers, invalid withAttribution() tags, baggage delimiters across services.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DiagLogger, DiagLogLevel, diag } from '@opentelemetry/api';
import type OpenAIType from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type FakeOpenAI,
  type Script,
  startFakeOpenAI,
} from '../../examples/shared/fake-openai-server.mjs';
import { loadConfig } from '../../src/config/load-config.js';
import { ConfigError } from '../../src/errors/index.js';
import { LOCAL_RELAY, useFakeServerHarness } from '../helpers/fake-server-harness.js';
import type { Harness } from '../helpers/harness.js';
import { App, childEnv, freePort } from '../helpers/processes.js';
import { parsePrometheusText, sum } from '../helpers/prom-text.js';
import { startPrometheus } from '../helpers/prometheus.js';

const PROVIDERS = [LOCAL_RELAY];
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

const fake = useFakeServerHarness();
const { llm } = fake;
let h: Harness;
let openai: OpenAIType;

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
    diagged.length = 0;
    diag.setLogger(recorder, DiagLogLevel.ALL);
    h = await fake.harness({
      providers: PROVIDERS,
      budgets: [{ name: 'all', window: 'hour', limit: { tokens: 1e9 } }],
    });
    openai = fake.client(h, { apiKey: 'sk-test-hostile' });
  });
  afterEach(() => {
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
        script: {
          kind: 'bytes',
          headers: JSON_TYPE,
          body: ['{"id":"chatcmpl-1","choices":[{"ind'],
        },
        error: ['SyntaxError', 'Unterminated string in JSON at position 35 (line 1 column 36)'],
      },
      {
        name: 'an HTML page served as JSON',
        stream: false,
        script: {
          kind: 'bytes',
          headers: JSON_TYPE,
          body: ['<html><body>Bad gateway</body></html>'],
        },
        error: ['SyntaxError', `Unexpected token '<', "<html><bod"... is not valid JSON`],
      },
      {
        name: 'connection reset after half the JSON body',
        stream: false,
        script: { kind: 'bytes', headers: JSON_TYPE, body: ['{"id":"chatcmpl-1",'], end: 'reset' },
        error: ['TypeError', 'terminated'],
      },
      {
        name: 'SSE: a data line with truncated JSON',
        stream: true,
        script: {
          kind: 'bytes',
          headers: SSE,
          body: [chunk({ role: 'assistant', content: '' }), 'data: {"id":"c1","choices":[{\n\n'],
        },
        error: ['SyntaxError', 'Error reading response: malformed server-sent event JSON.'],
      },
      {
        name: 'SSE: an error event after some output',
        stream: true,
        script: {
          kind: 'bytes',
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
          kind: 'bytes',
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
        kind: 'bytes',
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
        kind: 'bytes',
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
        kind: 'bytes',
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
    }, 120_000);
  });
});

// ---------------------------------------------------------------------------------------------
// Secrets: with content capture off, neither the API key nor the prompt or the reply text
// appears in any output; the key is known only by its 8-hex fingerprint.
// ---------------------------------------------------------------------------------------------

const SECRET_KEY = `sk-test-SECRET-${randomBytes(16).toString('hex')}`;
const SECRET_PROMPT = `merger plan codename ${randomBytes(6).toString('hex')}`;
const FINGERPRINT = createHash('sha256').update(SECRET_KEY).digest('hex').slice(0, 8);
/** The fake server's reply text starts with these words, whatever the model. */
const REPLY_TEXT = 'Hello from';

/** Every secret-looking piece of `output` that must not be there. */
function leaks(output: string): string[] {
  return [SECRET_KEY, SECRET_KEY.slice('sk-test-SECRET-'.length), SECRET_PROMPT, REPLY_TEXT].filter(
    (secret) => output.includes(secret),
  );
}

describe('secrets, in-process: every span, every diag line and /metrics', () => {
  afterEach(() => {
    diag.disable();
  });

  it('never carry the key, the prompt or the reply, across every kind of call and failure', async () => {
    diagged.length = 0;
    diag.setLogger(recorder, DiagLogLevel.ALL);
    h = await fake.harness({
      providers: PROVIDERS,
      budgets: [
        { name: 'watch', window: 'hour', limit: { tokens: 1 }, action: 'monitor' },
        { name: 'cap', match: { model: 'gpt-4.1-mini' }, window: 'hour', limit: { requests: 1 } },
      ],
    });
    const client = fake.client(h, { apiKey: SECRET_KEY });
    const messages = [{ role: 'user' as const, content: SECRET_PROMPT }];
    const settle = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: Error) => e.constructor.name,
      );
    const outcomes = [
      await settle(client.chat.completions.create({ model: 'gpt-4.1', messages })),
      await settle(
        client.chat.completions
          .create({ model: 'gpt-4.1', messages, stream: true })
          .then(async (s) => {
            for await (const _ of s);
          }),
      ),
      await settle(
        client.chat.completions
          .create({ model: 'gpt-4.1', messages, stream: true })
          .then(async (s) => {
            for await (const _ of s) break;
          }),
      ),
      await settle(client.chat.completions.create({ model: 'error-401', messages })),
      await settle(client.chat.completions.create({ model: 'error-500', messages })),
      await settle(client.chat.completions.create({ model: 'gpt-4.1-mini', messages })),
      await settle(client.chat.completions.create({ model: 'gpt-4.1-mini', messages })),
      await settle(client.responses.create({ model: 'gpt-4.1', input: SECRET_PROMPT })),
      await settle(
        client.embeddings.create({ model: 'text-embedding-3-small', input: SECRET_PROMPT }),
      ),
    ];
    llm.enqueue({
      kind: 'bytes',
      headers: { 'content-type': 'application/json' },
      body: ['{"x":'],
    });
    outcomes.push(await settle(client.chat.completions.create({ model: 'gpt-4.1', messages })));
    expect(outcomes).toEqual([
      'ok',
      'ok',
      'ok',
      'AuthenticationError',
      'InternalServerError',
      'ok',
      'BudgetExceededError',
      'ok',
      'ok',
      'SyntaxError',
    ]);

    const spans = h.spans();
    expect(spans).toHaveLength(10);
    const spanText = JSON.stringify(
      spans.map((span) => ({
        name: span.name,
        attributes: span.attributes,
        status: span.status,
        events: span.events,
        links: span.links,
        resource: span.resource.attributes,
      })),
    );
    const metricsText = await h.metricsText();
    const diagText = diagged.join('\n');
    expect(diagged.length).toBeGreaterThan(0); // the scan covers something
    expect(leaks(spanText)).toEqual([]);
    expect(leaks(metricsText)).toEqual([]);
    expect(leaks(diagText)).toEqual([]);
    expect(spans.map((span) => span.attributes['tokenfuse.api_key.fingerprint'])).toEqual(
      Array(10).fill(FINGERPRINT),
    );
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------
// A real app: hostile tag values and secrets through `--import tokenfuse/register`
// ---------------------------------------------------------------------------------------------

/** Tag values that break naive exposition writers; each is distinct and none is 'unknown'. */
const HOSTILE_VALUES = [
  'quote"inside"',
  'back\\slash\\',
  'new\nline',
  'brace} injected_metric{x="1"} 1',
  '# HELP tokenfuse_requests_total injected\n# TYPE tokenfuse_requests_total gauge\ninjected 1',
  'unicode café ☕ 日本語 𝄞 \u200b',
  'tab\there',
  ' padded ',
  '\\n not a newline',
  'carriage\rreturn',
  '',
];
const NON_EMPTY = HOSTILE_VALUES.filter((v) => v !== '');

/**
 * A strict reader of Prometheus text exposition format 0.0.4: every line is a HELP, a TYPE,
 * a UNIT, a sample whose label block is read to its closing brace with only \\ \" \n escapes, or
 * empty. Throws on the first line that is none of these; returns the samples.
 */
function strictExposition(text: string) {
  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
  const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  const typed = new Set<string>();
  const lines = text.split('\n');
  expect(lines.at(-1)).toBe('');
  for (const line of lines.slice(0, -1)) {
    const fail = (why: string) => {
      throw new Error(`invalid exposition line (${why}): ${JSON.stringify(line)}`);
    };
    if (line.startsWith('# HELP ')) {
      const name = NAME.exec(line.slice(7))?.[0] ?? fail('HELP name');
      if (/\\[^\\n]/.test(line.slice(7 + name.length).replace(/\\\\/g, ''))) fail('HELP escape');
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const m =
        /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (!m) fail('TYPE');
      if (typed.has(m![1]!)) fail('TYPE repeated');
      typed.add(m![1]!);
      continue;
    }
    if (line.startsWith('# UNIT ')) {
      if (!/^# UNIT [a-zA-Z_:][a-zA-Z0-9_:]* \S+$/.test(line)) fail('UNIT');
      continue;
    }
    if (line.startsWith('#')) fail('unknown comment');
    const name = NAME.exec(line)?.[0] ?? fail('metric name');
    let i = name.length;
    const labels: Record<string, string> = {};
    if (line[i] === '{') {
      i++;
      while (line[i] !== '}') {
        const label = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i))?.[0] ?? fail('label name');
        i += label.length;
        if (line.slice(i, i + 2) !== '="') fail('label =');
        i += 2;
        let value = '';
        for (;;) {
          const c = line[i];
          if (c === undefined) fail('unterminated value');
          if (c === '"') break;
          if (c === '\\') {
            const e = line[i + 1];
            if (e === '\\') value += '\\';
            else if (e === '"') value += '"';
            else if (e === 'n') value += '\n';
            else fail('bad escape');
            i += 2;
          } else {
            value += c;
            i++;
          }
        }
        i++;
        if (label in labels) fail('repeated label');
        labels[label] = value;
        if (line[i] === ',') i++;
        else if (line[i] !== '}') fail('label separator');
      }
      i++;
    }
    const rest = /^ (\S+)( -?\d+)?$/.exec(line.slice(i)) ?? fail('value');
    const value = Number(rest[1]);
    if (Number.isNaN(value) && rest[1] !== 'NaN') fail('number');
    const family = name.replace(/_(bucket|sum|count)$/, '');
    if (!typed.has(name) && !typed.has(family)) fail('sample before its TYPE');
    samples.push({ name, labels, value });
  }
  return samples;
}

describe('a real app under --import tokenfuse/register', () => {
  let tmp: string;
  let llmForApp: FakeOpenAI;
  let app: App;
  let port: number;
  let metricsText: string;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'tokenfuse-hostile-'));
    const config = join(tmp, 'tokenfuse.config.yaml');
    writeFileSync(
      config,
      'providers:\n  - id: local-relay\n    hosts: ["127.0.0.1"]\n    pricesFrom: openai\n',
    );
    llmForApp = await startFakeOpenAI();
    port = await freePort();
    app = new App(
      ['--import', 'tokenfuse/register', 'test/hostile/apps/hostile-app.mjs'],
      childEnv({
        LLM_BASE_URL: `${llmForApp.url}/v1`,
        OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
        TOKENFUSE_CONFIG: config,
        HOSTILE_VALUES: JSON.stringify(HOSTILE_VALUES),
        HOSTILE_API_KEY: SECRET_KEY,
        HOSTILE_PROMPT: SECRET_PROMPT,
        // Every span and every diag message goes to the app's stdout/stderr, to be scanned.
        OTEL_TRACES_EXPORTER: 'console',
        OTEL_LOG_LEVEL: 'all',
      }),
    );
    const deadline = Date.now() + 60_000;
    while (!app.stdout.includes('{"ready":true')) {
      if (app.child.exitCode !== null || Date.now() > deadline)
        throw new Error(`the app did not get ready; stderr:\n${app.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(app.stdout).toContain('{"ready":true,"failures":[401,500]}');
    metricsText = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  }, 90_000);

  afterAll(async () => {
    await app?.kill();
    await llmForApp?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** tokenfuse_requests_total as [department, project, environment, model, outcome, count]. */
  const requestRows = (
    samples: Array<{ name: string; labels: Record<string, string>; value: number }>,
  ) =>
    samples
      .filter((s) => s.name === 'tokenfuse_requests_total')
      .map((s) => [
        s.labels.department,
        s.labels.project,
        s.labels.environment,
        s.labels.model,
        s.labels.outcome,
        s.value,
      ])
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

  const expectedRows = [
    ...NON_EMPTY.flatMap((v) => [
      [v, 'unknown', 'unknown', 'gpt-4.1', 'ok', 1],
      ['unknown', v, 'unknown', 'gpt-4.1', 'ok', 1],
      ['unknown', 'unknown', v, 'gpt-4.1', 'ok', 1],
    ]),
    // The empty header, the empty baggage entry and the stream.
    ['unknown', 'unknown', 'unknown', 'gpt-4.1', 'ok', 3],
    ['unknown', 'unknown', 'unknown', 'error-401', 'error', 1],
    ['unknown', 'unknown', 'unknown', 'error-500', 'error', 1],
  ].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

  it('/metrics is valid text exposition, line by line, with every hostile value exact', () => {
    const samples = strictExposition(metricsText);
    expect(requestRows(samples)).toEqual(expectedRows);
    // The shared parser every other suite uses reads the same text the same way,
    // the raw carriage return included.
    expect(requestRows(parsePrometheusText(metricsText))).toEqual(expectedRows);
    expect(metricsText.match(/^# HELP tokenfuse_requests_total /gm)).toHaveLength(1);
    expect(metricsText).not.toMatch(/^injected/m);
  });

  it('a real Prometheus scrapes it and reads every value back exact', async () => {
    const prometheus = await startPrometheus({ targets: [`127.0.0.1:${port}`] });
    try {
      await prometheus.waitForTargets();
      const result = await prometheus.query('tokenfuse_requests_total');
      const rows = result
        .map((r) => [
          r.metric.department,
          r.metric.project,
          r.metric.environment,
          r.metric.model,
          r.metric.outcome,
          Number(r.value[1]),
        ])
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
      expect(rows).toEqual(expectedRows);
      expect(await prometheus.query('up')).toMatchObject([{ value: [expect.any(Number), '1'] }]);
    } finally {
      await prometheus.stop();
    }
  }, 60_000);

  it('stdout (every span, info/debug diag), stderr and /metrics carry no key, prompt or reply', () => {
    // The scan covers the spans: the console exporter printed the key's fingerprint.
    expect(app.stdout).toContain(`'tokenfuse.api_key.fingerprint': '${FINGERPRINT}'`);
    // ... and the diag logger at level ALL (debug lines of the instrumentation).
    expect(app.stdout + app.stderr).toContain(
      'tokenfuse Applying instrumentation patch for module on require hook',
    );
    expect(leaks(app.stdout)).toEqual([]);
    expect(leaks(app.stderr)).toEqual([]);
    expect(leaks(metricsText)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Config bombs: a clean ConfigError naming the file, bounded by the yaml package's limits
// ---------------------------------------------------------------------------------------------

describe('config bombs', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tokenfuse-bombs-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function loadError(name: string, text: string): ConfigError {
    const path = join(dir, name);
    writeFileSync(path, text);
    let caught: unknown;
    try {
      loadConfig({ path, env: {} });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).source).toBe(path);
    return caught as ConfigError;
  }

  it('billion laughs: nine levels of nine aliases stop at the alias limit', () => {
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) {
      const [prev, cur] = ['abcdefghi'[i - 1], 'abcdefghi'[i]];
      lines.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const err = loadError('laughs.yaml', `${lines.join('\n')}\n`);
    expect(err.message).toBe(
      `invalid tokenfuse configuration in ${join(dir, 'laughs.yaml')}:\n` +
        '  - (root): Excessive alias count indicates a resource exhaustion attack',
    );
  });

  it.each([
    { name: 'flow sequences', text: `metrics: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n` },
    { name: 'JSON objects', text: `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}` },
  ])(
    'nesting 20 000 deep ($name): a syntax error, not a stack overflow',
    ({ name, text }) => {
      const err = loadError(`nested-${name.replace(' ', '-')}.yaml`, text);
      // The yaml parser catches its own stack overflow (in JSON, a second time in a regex).
      expect(err.issues.length).toBeGreaterThan(0);
      for (const issue of err.issues)
        expect(issue.message).toMatch(
          /^syntax error(?: at column \d+)?: (Maximum call stack size exceeded|Invalid regular expression: .*: Stack overflow)$/,
        );
    },
    60_000,
  );
});
