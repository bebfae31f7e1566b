import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type OpenAIType from 'openai';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  contextWithAttribution,
  InvalidTagsError,
  type ResolvedConfig,
  resolveConfig,
  withAttribution,
} from '../src/index.js';
import type { TokenfuseOptions } from '../src/types.js';
import { LOCAL_RELAY, useFakeServerHarness } from './helpers/fake-server-harness.js';
import type { Harness } from './helpers/harness.js';
import { type Sample, select } from './helpers/prom-text.js';

// Every call below asks gpt-4.1 one message of two words, so the fake server counts
// 2 + 3 = 5 input tokens, and exactly `max_tokens` output tokens. Each call gets its
// own max_tokens, which identifies its span (gen_ai.request.max_tokens) and makes the
// output-token sum of a label set say exactly which calls landed in it.
const INPUT_TOKENS = 5;
const PROVIDERS: TokenfuseOptions['providers'] = [LOCAL_RELAY];
const DEFAULTS = { department: 'platform', project: 'core', environment: 'test' };
const TAG_ENV = [
  'TOKENFUSE_DEPARTMENT',
  'TOKENFUSE_PROJECT',
  'TOKENFUSE_ENVIRONMENT',
  'TOKENFUSE_USER',
  'TOKENFUSE_FEATURE',
  'OTEL_RESOURCE_ATTRIBUTES',
];
const ATTRIBUTION_HEADERS = ['x-department', 'x-project', 'x-environment', 'x-user', 'x-feature'];

const { llm, harness, client } = useFakeServerHarness();
let h: Harness | undefined;
let openai: OpenAIType;

beforeEach(() => {
  // The tests state every tag source themselves: none may leak in from the shell.
  // (An empty variable counts as unset.)
  for (const name of TAG_ENV) vi.stubEnv(name, '');
});
afterEach(() => {
  vi.unstubAllEnvs();
});

/** A harness whose calls go to the fake server, labelled provider="local-relay". */
async function setup(options: TokenfuseOptions | ResolvedConfig = {}): Promise<Harness> {
  h = await harness('source' in options ? options : { providers: PROVIDERS, ...options });
  openai = client(h, { apiKey: 'sk-test-attr' });
  return h;
}

type RequestOptions = Parameters<OpenAIType['chat']['completions']['create']>[1];

function chat(maxTokens: number, options?: RequestOptions) {
  return openai.chat.completions.create(
    {
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'hello there' }],
      max_tokens: maxTokens,
    },
    options,
  );
}

interface Series {
  labels: Record<string, string>;
  value: number;
}

/** Every sample of a metric with its labels, scope labels left out, in a stable order. */
function series(samples: Sample[], name: string): Series[] {
  return select(samples, name)
    .map((s) => {
      const { otel_scope_name, otel_scope_version, ...labels } = s.labels;
      return { labels, value: s.value };
    })
    .sort((a, b) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)));
}

/** The label sets of tokenfuse_requests_total (all calls succeed: outcome="ok") with their counts. */
function requests(samples: Sample[]): Series[] {
  return series(samples, 'tokenfuse_requests_total');
}

/** The expected tokenfuse_requests_total series of one label set. */
function req(tags: Record<string, string>, count: number): Series {
  return {
    labels: { ...tags, provider: 'local-relay', model: 'gpt-4.1', outcome: 'ok' },
    value: count,
  };
}

/** The expected tokenfuse_tokens_total series (input and output) of one label set. */
function tok(tags: Record<string, string>, calls: number, outputTokens: number): Series[] {
  const labels = { ...tags, provider: 'local-relay', model: 'gpt-4.1' };
  return [
    { labels: { ...labels, type: 'input' }, value: calls * INPUT_TOKENS },
    { labels: { ...labels, type: 'output' }, value: outputTokens },
  ];
}

function sorted(list: Series[]): Series[] {
  return [...list].sort((a, b) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)));
}

/** The tag attributes (`tokenfuse.department` …) of the span of the call with `maxTokens`. */
function spanTags(maxTokens: number): Record<string, unknown> {
  const matching = h!
    .spans()
    .filter((s) => s.attributes['gen_ai.request.max_tokens'] === maxTokens);
  expect(matching, `spans with max_tokens ${maxTokens}`).toHaveLength(1);
  return tagAttributes(matching[0]!);
}

function tagAttributes(span: ReadableSpan): Record<string, unknown> {
  const tags: Record<string, unknown> = {};
  for (const name of ['department', 'project', 'environment', 'user', 'feature']) {
    const key = `tokenfuse.${name}`;
    if (key in span.attributes) tags[key] = span.attributes[key];
  }
  return tags;
}

/** Headers the fake server received for the request with `maxTokens`. */
function received(maxTokens: number): Record<string, string> {
  const matching = llm.requests.filter((r) => r.body?.max_tokens === maxTokens);
  expect(matching, `requests with max_tokens ${maxTokens}`).toHaveLength(1);
  return matching[0]!.headers;
}

function attributionHeadersIn(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).filter(([k]) => ATTRIBUTION_HEADERS.includes(k)),
  );
}

describe('config defaults', () => {
  it('label every call with attribution.defaults, on metrics and on the span', async () => {
    await setup({ attribution: { defaults: DEFAULTS } });
    await chat(3);
    await chat(4);

    const m = await h!.scrape();
    expect(requests(m)).toEqual([req(DEFAULTS, 2)]);
    expect(series(m, 'tokenfuse_tokens_total')).toEqual(tok(DEFAULTS, 2, 7));
    expect(spanTags(3)).toEqual({
      'tokenfuse.department': 'platform',
      'tokenfuse.project': 'core',
      'tokenfuse.environment': 'test',
    });
    expect(spanTags(4)).toEqual(spanTags(3));
  });

  it("report a tag nobody set as 'unknown' on metrics and leave it off the span", async () => {
    await setup({ attribution: { defaults: { department: 'platform' } } });
    await chat(3);

    const m = await h!.scrape();
    const tags = { department: 'platform', project: 'unknown', environment: 'unknown' };
    expect(requests(m)).toEqual([req(tags, 1)]);
    expect(series(m, 'tokenfuse_tokens_total')).toEqual(tok(tags, 1, 3));
    expect(series(m, 'tokenfuse_cost_usd_total').map((s) => s.labels)).toEqual([
      { ...tags, provider: 'local-relay', model: 'gpt-4.1' },
    ]);
    expect(spanTags(3)).toEqual({ 'tokenfuse.department': 'platform' });
  });

  it("with no tags at all, every tag label is 'unknown' and the span has no tag attribute", async () => {
    await setup();
    await chat(3);

    const m = await h!.scrape();
    expect(requests(m)).toEqual([
      req({ department: 'unknown', project: 'unknown', environment: 'unknown' }, 1),
    ]);
    expect(spanTags(3)).toEqual({});
  });
});

describe('environment variables', () => {
  it('TOKENFUSE_DEPARTMENT and deployment.environment.name in OTEL_RESOURCE_ATTRIBUTES (resolved config)', async () => {
    const config = resolveConfig(
      { providers: PROVIDERS },
      {
        env: {
          TOKENFUSE_DEPARTMENT: 'ops',
          OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=staging',
        },
      },
    );
    await setup(config);
    await chat(3);

    const m = await h!.scrape();
    expect(requests(m)).toEqual([
      req({ department: 'ops', project: 'unknown', environment: 'staging' }, 1),
    ]);
    expect(spanTags(3)).toEqual({
      'tokenfuse.department': 'ops',
      'tokenfuse.environment': 'staging',
    });
  });

  it('TOKENFUSE_<TAG> wins over attribution.defaults, which wins over OTEL_RESOURCE_ATTRIBUTES', async () => {
    const config = resolveConfig(
      { providers: PROVIDERS, attribution: { defaults: DEFAULTS } },
      {
        env: {
          TOKENFUSE_DEPARTMENT: 'ops',
          OTEL_RESOURCE_ATTRIBUTES: 'service.name=api,deployment.environment.name=staging',
        },
      },
    );
    await setup(config);
    await chat(3);

    const m = await h!.scrape();
    expect(requests(m)).toEqual([
      req({ department: 'ops', project: 'core', environment: 'test' }, 1),
    ]);
  });

  it('reads the process environment when given plain options', async () => {
    vi.stubEnv('TOKENFUSE_PROJECT', 'search');
    vi.stubEnv('TOKENFUSE_ENVIRONMENT', 'prod');
    vi.stubEnv('OTEL_RESOURCE_ATTRIBUTES', 'deployment.environment.name=staging');
    await setup({ attribution: { defaults: DEFAULTS } });
    await chat(3);

    const m = await h!.scrape();
    expect(requests(m)).toEqual([
      req({ department: 'platform', project: 'search', environment: 'prod' }, 1),
    ]);
    expect(spanTags(3)).toEqual({
      'tokenfuse.department': 'platform',
      'tokenfuse.project': 'search',
      'tokenfuse.environment': 'prod',
    });
  });
});

describe('withAttribution()', () => {
  it('tags calls after awaits, in setTimeout callbacks and in Promise.all; calls outside get the defaults', async () => {
    await setup({ attribution: { defaults: DEFAULTS } });
    const inside = { ...DEFAULTS, department: 'marketing' };

    const result = await withAttribution({ department: 'marketing', feature: 'x' }, async () => {
      await sleep(1);
      await chat(1);
      await new Promise<void>((resolve, reject) => {
        setTimeout(() => {
          chat(2).then(() => resolve(), reject);
        }, 1);
      });
      await Promise.all([chat(3), chat(4), chat(5)]);
      return 'done';
    });
    expect(result).toBe('done');
    await chat(10);

    const m = await h!.scrape();
    expect(requests(m)).toEqual(sorted([req(inside, 5), req(DEFAULTS, 1)]));
    expect(series(m, 'tokenfuse_tokens_total')).toEqual(
      sorted([...tok(inside, 5, 1 + 2 + 3 + 4 + 5), ...tok(DEFAULTS, 1, 10)]),
    );
    for (const n of [1, 2, 3, 4, 5]) {
      expect(spanTags(n), `call ${n}`).toEqual({
        'tokenfuse.department': 'marketing',
        'tokenfuse.project': 'core',
        'tokenfuse.environment': 'test',
        'tokenfuse.feature': 'x',
      });
    }
    expect(spanTags(10)).toEqual({
      'tokenfuse.department': 'platform',
      'tokenfuse.project': 'core',
      'tokenfuse.environment': 'test',
    });
  });

  it('keeps concurrent scopes apart', async () => {
    await setup({ attribution: { defaults: DEFAULTS } });
    await Promise.all([
      withAttribution({ department: 'a' }, async () => {
        await sleep(2);
        await chat(1);
      }),
      withAttribution({ department: 'b' }, async () => {
        await chat(2);
        await sleep(1);
        await chat(3);
      }),
    ]);

    const m = await h!.scrape();
    expect(requests(m)).toEqual(
      sorted([req({ ...DEFAULTS, department: 'a' }, 1), req({ ...DEFAULTS, department: 'b' }, 2)]),
    );
    expect(spanTags(1)['tokenfuse.department']).toBe('a');
    expect(spanTags(2)['tokenfuse.department']).toBe('b');
    expect(spanTags(3)['tokenfuse.department']).toBe('b');
  });

  it('nested scopes merge: the inner tag wins, outer tags are kept, and the outer scope resumes after', async () => {
    await setup({ attribution: { defaults: DEFAULTS } });

    await withAttribution({ department: 'marketing', project: 'campaigns' }, async () => {
      await withAttribution({ department: 'sales', user: 'u-1' }, async () => {
        await sleep(1);
        await chat(1);
      });
      await chat(2);
    });
    await chat(3);

    expect(spanTags(1)).toEqual({
      'tokenfuse.department': 'sales',
      'tokenfuse.project': 'campaigns',
      'tokenfuse.environment': 'test',
      'tokenfuse.user': 'u-1',
    });
    expect(spanTags(2)).toEqual({
      'tokenfuse.department': 'marketing',
      'tokenfuse.project': 'campaigns',
      'tokenfuse.environment': 'test',
    });
    expect(spanTags(3)).toEqual({
      'tokenfuse.department': 'platform',
      'tokenfuse.project': 'core',
      'tokenfuse.environment': 'test',
    });
    const m = await h!.scrape();
    expect(requests(m)).toEqual(
      sorted([
        req({ department: 'sales', project: 'campaigns', environment: 'test' }, 1),
        req({ department: 'marketing', project: 'campaigns', environment: 'test' }, 1),
        req(DEFAULTS, 1),
      ]),
    );
  });

  it('is ignored with attribution.baggage: false (headers still count)', async () => {
    await setup({ attribution: { defaults: DEFAULTS, baggage: false } });
    await withAttribution({ department: 'marketing', user: 'u-9' }, async () => {
      await chat(1);
      await chat(2, { headers: { 'X-Project': 'tickets' } });
    });

    expect(spanTags(1)).toEqual({
      'tokenfuse.department': 'platform',
      'tokenfuse.project': 'core',
      'tokenfuse.environment': 'test',
    });
    expect(spanTags(2)).toEqual({
      'tokenfuse.department': 'platform',
      'tokenfuse.project': 'tickets',
      'tokenfuse.environment': 'test',
    });
    const m = await h!.scrape();
    expect(requests(m)).toEqual(
      sorted([req(DEFAULTS, 1), req({ ...DEFAULTS, project: 'tickets' }, 1)]),
    );
  });

  describe('validates its tags', () => {
    it('an unknown tag name is an InvalidTagsError naming the key and listing the valid tags; fn is not run', () => {
      const fn = vi.fn();
      let error: unknown;
      try {
        withAttribution({ team: 'x' } as never, fn);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(InvalidTagsError);
      expect((error as InvalidTagsError).code).toBe('invalid_tags');
      expect((error as Error).message).toContain("unknown tag 'team'");
      expect((error as Error).message).toContain(
        "tags are 'department', 'project', 'environment', 'user', 'feature'",
      );
      expect((error as Error).message).toContain('withAttribution()');
      expect(fn).not.toHaveBeenCalled();
    });

    it('an empty value is an InvalidTagsError naming the tag', () => {
      const fn = vi.fn();
      expect(() => withAttribution({ department: '' }, fn)).toThrow(InvalidTagsError);
      expect(() => withAttribution({ department: '' }, fn)).toThrow(
        `tag 'department' must be a non-empty string, got ""`,
      );
      expect(fn).not.toHaveBeenCalled();
    });

    it('a non-string value is an InvalidTagsError naming the tag and the value', () => {
      expect(() => withAttribution({ project: 42 as never }, () => {})).toThrow(
        "tag 'project' must be a non-empty string, got 42 (number)",
      );
    });
  });
});

describe('per-call headers', () => {
  const HEADERS = {
    'X-Department': 'support',
    'x-project': 'tickets',
    'X-User': 'u-42',
    'X-Feature': 'summary',
  };
  const FROM_HEADERS = {
    'tokenfuse.department': 'support',
    'tokenfuse.project': 'tickets',
    'tokenfuse.environment': 'test',
    'tokenfuse.user': 'u-42',
    'tokenfuse.feature': 'summary',
  };

  it('win over withAttribution and defaults, and are stripped before the request leaves; other headers go through', async () => {
    await setup({ attribution: { defaults: DEFAULTS } });
    const headers = { ...HEADERS, 'X-Trace-Me': '1' };
    await withAttribution({ department: 'marketing', project: 'campaigns', feature: 'x' }, () =>
      chat(3, { headers }),
    );

    expect(spanTags(3)).toEqual(FROM_HEADERS);
    const m = await h!.scrape();
    const labels = { department: 'support', project: 'tickets', environment: 'test' };
    expect(requests(m)).toEqual([req(labels, 1)]);
    expect(series(m, 'tokenfuse_tokens_total')).toEqual(tok(labels, 1, 3));

    const sent = received(3);
    expect(attributionHeadersIn(sent)).toEqual({});
    expect(sent['x-trace-me']).toBe('1');
    expect(sent.authorization).toBe('Bearer sk-test-attr');
    // The caller's own object is left as it was (it may be reused for the next call).
    expect(headers).toEqual({ ...HEADERS, 'X-Trace-Me': '1' });
  });

  it('X-Environment sets the environment tag', async () => {
    await setup({ attribution: { defaults: DEFAULTS } });
    await chat(3, { headers: { 'X-Environment': 'canary' } });

    const m = await h!.scrape();
    expect(requests(m)).toEqual([req({ ...DEFAULTS, environment: 'canary' }, 1)]);
    expect(attributionHeadersIn(received(3))).toEqual({});
  });

  it('work as a Headers object', async () => {
    await setup({ attribution: { defaults: DEFAULTS } });
    const headers = new Headers({ ...HEADERS, 'X-Trace-Me': '1' });
    await chat(3, { headers });

    expect(spanTags(3)).toEqual(FROM_HEADERS);
    const m = await h!.scrape();
    expect(requests(m)).toEqual([
      req({ department: 'support', project: 'tickets', environment: 'test' }, 1),
    ]);
    const sent = received(3);
    expect(attributionHeadersIn(sent)).toEqual({});
    expect(sent['x-trace-me']).toBe('1');
    expect(headers.get('x-department')).toBe('support');
  });

  it('work as an array of pairs', async () => {
    await setup({ attribution: { defaults: DEFAULTS } });
    const headers: [string, string][] = [...Object.entries(HEADERS), ['X-Trace-Me', '1']];
    await chat(3, { headers });

    expect(spanTags(3)).toEqual(FROM_HEADERS);
    const m = await h!.scrape();
    expect(requests(m)).toEqual([
      req({ department: 'support', project: 'tickets', environment: 'test' }, 1),
    ]);
    const sent = received(3);
    expect(attributionHeadersIn(sent)).toEqual({});
    expect(sent['x-trace-me']).toBe('1');
    expect(headers).toHaveLength(5);
  });

  it('an empty attribution header sets no tag and is still stripped, in every headers shape', async () => {
    await setup({ attribution: { defaults: DEFAULTS } });
    await withAttribution({ department: 'marketing' }, async () => {
      await chat(1, { headers: { 'X-Department': '', 'X-Trace-Me': '1' } });
      await chat(2, { headers: new Headers({ 'X-Department': '', 'X-Trace-Me': '1' }) });
      await chat(3, {
        headers: [
          ['X-Department', ''],
          ['X-Trace-Me', '1'],
        ],
      });
    });

    const m = await h!.scrape();
    expect(requests(m)).toEqual([req({ ...DEFAULTS, department: 'marketing' }, 3)]);
    for (const n of [1, 2, 3]) {
      expect(spanTags(n)['tokenfuse.department'], `call ${n}`).toBe('marketing');
      const sent = received(n);
      expect(attributionHeadersIn(sent), `call ${n}`).toEqual({});
      expect(sent['x-trace-me'], `call ${n}`).toBe('1');
    }
  });

  it('are forwarded with attribution.stripHeaders: false, and still attribute the call', async () => {
    await setup({ attribution: { defaults: DEFAULTS, stripHeaders: false } });
    await chat(3, { headers: { ...HEADERS, 'X-Trace-Me': '1' } });

    expect(spanTags(3)).toEqual(FROM_HEADERS);
    const sent = received(3);
    expect(attributionHeadersIn(sent)).toEqual({
      'x-department': 'support',
      'x-project': 'tickets',
      'x-user': 'u-42',
      'x-feature': 'summary',
    });
    expect(sent['x-trace-me']).toBe('1');
  });

  it('are ignored for attribution with attribution.headers: false', async () => {
    await setup({ attribution: { defaults: DEFAULTS, headers: false } });
    await withAttribution({ department: 'marketing' }, () => chat(3, { headers: HEADERS }));

    expect(spanTags(3)).toEqual({
      'tokenfuse.department': 'marketing',
      'tokenfuse.project': 'core',
      'tokenfuse.environment': 'test',
    });
    const m = await h!.scrape();
    expect(requests(m)).toEqual([req({ ...DEFAULTS, department: 'marketing' }, 1)]);
    // Not read as attribution, so they are the caller's own headers: sent as given.
    expect(attributionHeadersIn(received(3))).toEqual({
      'x-department': 'support',
      'x-project': 'tickets',
      'x-user': 'u-42',
      'x-feature': 'summary',
    });
  });
});

describe('user and feature', () => {
  it('are span attributes only: no metric sample has a user or feature label by default', async () => {
    await setup({ attribution: { defaults: DEFAULTS } });
    await chat(3, { headers: { 'X-User': 'u-42', 'X-Feature': 'summary' } });
    await withAttribution({ user: 'u-7', feature: 'search' }, () => chat(4));

    expect(spanTags(3)).toMatchObject({ 'tokenfuse.user': 'u-42', 'tokenfuse.feature': 'summary' });
    expect(spanTags(4)).toMatchObject({ 'tokenfuse.user': 'u-7', 'tokenfuse.feature': 'search' });

    const m = await h!.scrape();
    const tagged = m.filter((s) => 'user' in s.labels || 'feature' in s.labels);
    expect(tagged).toEqual([]);
    // Both calls fold into the one default label set.
    expect(requests(m)).toEqual([req(DEFAULTS, 2)]);
    expect(series(m, 'tokenfuse_tokens_total')).toEqual(tok(DEFAULTS, 2, 7));
  });

  it('become labels when metrics.labels lists them', async () => {
    await setup({
      attribution: { defaults: DEFAULTS },
      metrics: {
        labels: ['department', 'project', 'environment', 'user', 'feature', 'provider', 'model'],
      },
    });
    await chat(3, { headers: { 'X-User': 'u-42', 'X-Feature': 'summary' } });
    await chat(4);

    const m = await h!.scrape();
    expect(requests(m)).toEqual(
      sorted([
        req({ ...DEFAULTS, user: 'u-42', feature: 'summary' }, 1),
        req({ ...DEFAULTS, user: 'unknown', feature: 'unknown' }, 1),
      ]),
    );
    expect(series(m, 'tokenfuse_tokens_total')).toEqual(
      sorted([
        ...tok({ ...DEFAULTS, user: 'u-42', feature: 'summary' }, 1, 3),
        ...tok({ ...DEFAULTS, user: 'unknown', feature: 'unknown' }, 1, 4),
      ]),
    );
  });

  it('a label left out of metrics.labels is dropped from metrics', async () => {
    await setup({
      attribution: { defaults: DEFAULTS },
      metrics: { labels: ['department', 'feature', 'model'] },
    });
    await chat(3, { headers: { 'X-Feature': 'summary' } });

    const m = await h!.scrape();
    expect(requests(m)).toEqual([
      {
        labels: { department: 'platform', feature: 'summary', model: 'gpt-4.1', outcome: 'ok' },
        value: 1,
      },
    ]);
  });
});

describe('cross-service baggage', () => {
  let downstream: Server | undefined;
  let downstreamUrl: string;
  let seenByDownstream: IncomingHttpHeaders[];

  /** A downstream service that makes one LLM call per request, in the context its caller sent. */
  async function startDownstream(): Promise<void> {
    seenByDownstream = [];
    downstream = createServer((req, res) => {
      seenByDownstream.push(req.headers);
      const maxTokens = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('max'));
      context
        .with(propagation.extract(ROOT_CONTEXT, req.headers), () => chat(maxTokens))
        .then(
          () => res.end('ok'),
          (err) => {
            res.statusCode = 500;
            res.end(String(err));
          },
        );
    });
    await new Promise<void>((resolve) => downstream!.listen(0, '127.0.0.1', resolve));
    downstreamUrl = `http://127.0.0.1:${(downstream!.address() as AddressInfo).port}/`;
  }

  async function callDownstream(maxTokens: number, headers: Record<string, string>) {
    const res = await fetch(`${downstreamUrl}?max=${maxTokens}`, { headers });
    expect(await res.text()).toBe('ok');
  }

  afterEach(async () => {
    if (downstream) await new Promise((resolve) => downstream!.close(resolve));
    downstream = undefined;
  });

  it('an upstream tokenfuse service propagates its tags as W3C baggage to the downstream LLM call', async () => {
    await setup({ attribution: { defaults: DEFAULTS } });
    await startDownstream();

    // The upstream service: tags in the context it sends, not in the process.
    const headers: Record<string, string> = {};
    propagation.inject(
      contextWithAttribution(context.active(), { department: 'growth', feature: 'onboarding' }),
      headers,
    );
    expect(headers).toEqual({
      baggage: 'tokenfuse.department=growth,tokenfuse.feature=onboarding',
    });
    await callDownstream(3, headers);
    // A request with no baggage gets the downstream's own defaults.
    await callDownstream(4, {});

    expect(seenByDownstream[0]!.baggage).toBe(
      'tokenfuse.department=growth,tokenfuse.feature=onboarding',
    );
    const m = await h!.scrape();
    expect(requests(m)).toEqual(
      sorted([req({ ...DEFAULTS, department: 'growth' }, 1), req(DEFAULTS, 1)]),
    );
    expect(series(m, 'tokenfuse_tokens_total')).toEqual(
      sorted([...tok({ ...DEFAULTS, department: 'growth' }, 1, 3), ...tok(DEFAULTS, 1, 4)]),
    );
    expect(spanTags(3)).toEqual({
      'tokenfuse.department': 'growth',
      'tokenfuse.project': 'core',
      'tokenfuse.environment': 'test',
      'tokenfuse.feature': 'onboarding',
    });
    // Baggage is not forwarded to the LLM provider by tokenfuse.
    expect(received(3).baggage).toBeUndefined();
  });

  it('carries tag values with baggage delimiters and spaces across unchanged', async () => {
    await setup({ attribution: { defaults: DEFAULTS } });
    await startDownstream();

    const headers: Record<string, string> = {};
    withAttribution({ department: 'R&D, EMEA', project: 'a=b;c' }, () =>
      propagation.inject(context.active(), headers),
    );
    await callDownstream(3, headers);

    const m = await h!.scrape();
    expect(requests(m)).toEqual([
      req({ department: 'R&D, EMEA', project: 'a=b;c', environment: 'test' }, 1),
    ]);
    expect(spanTags(3)).toEqual({
      'tokenfuse.department': 'R&D, EMEA',
      'tokenfuse.project': 'a=b;c',
      'tokenfuse.environment': 'test',
    });
  });

  it('honours a raw baggage header from a service that does not use tokenfuse', async () => {
    await setup({ attribution: { defaults: DEFAULTS } });
    await startDownstream();

    await callDownstream(3, { baggage: 'session=abc, tokenfuse.department=finance' });

    const m = await h!.scrape();
    expect(requests(m)).toEqual([req({ ...DEFAULTS, department: 'finance' }, 1)]);
    expect(spanTags(3)).toEqual({
      'tokenfuse.department': 'finance',
      'tokenfuse.project': 'core',
      'tokenfuse.environment': 'test',
    });
  });

  it('is ignored with attribution.baggage: false', async () => {
    await setup({ attribution: { defaults: DEFAULTS, baggage: false } });
    await startDownstream();

    await callDownstream(3, { baggage: 'tokenfuse.department=finance' });

    const m = await h!.scrape();
    expect(requests(m)).toEqual([req(DEFAULTS, 1)]);
    expect(spanTags(3)['tokenfuse.department']).toBe('platform');
  });
});

describe('label cardinality cap', () => {
  it("folds values past metrics.maxValuesPerLabel into 'other'; spans keep the real values", async () => {
    await setup({ attribution: { defaults: DEFAULTS }, metrics: { maxValuesPerLabel: 2 } });
    const departments = ['a', 'b', 'c', 'd'];
    for (const [i, department] of departments.entries()) {
      await withAttribution({ department }, () => chat(i + 1));
    }
    // A value already kept stays itself after the cap is reached.
    await withAttribution({ department: 'a' }, () => chat(5));

    const m = await h!.scrape();
    expect(requests(m)).toEqual(
      sorted([
        req({ ...DEFAULTS, department: 'a' }, 2),
        req({ ...DEFAULTS, department: 'b' }, 1),
        req({ ...DEFAULTS, department: 'other' }, 2),
      ]),
    );
    expect(series(m, 'tokenfuse_tokens_total')).toEqual(
      sorted([
        ...tok({ ...DEFAULTS, department: 'a' }, 2, 1 + 5),
        ...tok({ ...DEFAULTS, department: 'b' }, 1, 2),
        ...tok({ ...DEFAULTS, department: 'other' }, 2, 3 + 4),
      ]),
    );
    for (const [i, department] of departments.entries()) {
      expect(spanTags(i + 1)['tokenfuse.department']).toBe(department);
    }
  });
});
