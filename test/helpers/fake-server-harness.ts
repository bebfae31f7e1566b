// The set-up most suites share: one fake LLM server for the file, and harnesses that are
// closed after each test. Registering the hooks here keeps every suite's clean-up the same
// (fuses closed before the harness, the server's log and scripts cleared between tests).
import type { ClientOptions } from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import {
  type FakeOpenAI,
  type FakeOpenAIOptions,
  startFakeOpenAI,
} from '../../examples/shared/fake-openai-server.mjs';
import type { ProviderDeclaration } from '../../src/types.js';
import { createHarness, type Harness } from './harness.js';

/** The fake server's loopback host declared as a relay priced as OpenAI (provider="local-relay"). */
export const LOCAL_RELAY: ProviderDeclaration = {
  id: 'local-relay',
  hosts: ['127.0.0.1'],
  pricesFrom: 'openai',
};

/**
 * Starts one fake server for the calling file or `describe` (beforeAll), clears its recorded
 * requests and queued scripts before each test, and closes it afterwards (afterAll).
 * The handle returned stands for the server from beforeAll on: read it inside tests and hooks.
 */
export function useFakeOpenAI(options?: FakeOpenAIOptions): FakeOpenAI {
  let server: FakeOpenAI | undefined;
  const started = (): FakeOpenAI => {
    if (server === undefined) {
      throw new Error('the fake server starts in beforeAll: use it inside a test or a hook');
    }
    return server;
  };
  beforeAll(async () => {
    server = await startFakeOpenAI(options);
  });
  beforeEach(() => {
    server?.reset();
  });
  afterAll(async () => {
    await server?.close();
  });
  return {
    get url() {
      return started().url;
    },
    get bedrockUrl() {
      return started().bedrockUrl;
    },
    get requests() {
      return started().requests;
    },
    reset: () => started().reset(),
    enqueue: (script) => started().enqueue(script),
    close: () => started().close(),
  };
}

/** What {@link useFakeServerHarness} gives a suite. */
export interface FakeServerHarness {
  /** The file's fake server (see {@link useFakeOpenAI}). */
  llm: FakeOpenAI;
  /** A harness ({@link createHarness}) that is closed after the test that started it. */
  harness(...args: Parameters<typeof createHarness>): Promise<Harness>;
  /** An `openai` client of `h` on the fake server (key "sk", no retries unless `options` say). */
  client(h: Harness, options?: ClientOptions): InstanceType<Harness['OpenAI']>;
}

/**
 * {@link useFakeOpenAI}, plus harnesses started through it closed after each test: its
 * fuses first (a Redis ledger drains and lets go of its connection), then the harness.
 * A suite's own afterEach, registered after this call, runs before these closes.
 */
export function useFakeServerHarness(options?: FakeOpenAIOptions): FakeServerHarness {
  const llm = useFakeOpenAI(options);
  const open: Harness[] = [];
  afterEach(async () => {
    while (open.length > 0) {
      const h = open.pop()!;
      await h.tokenfuse.fuses.close();
      await h.close();
    }
  });
  return {
    llm,
    async harness(...args) {
      const h = await createHarness(...args);
      open.push(h);
      return h;
    },
    client: (h, clientOptions) =>
      new h.OpenAI({ baseURL: `${llm.url}/v1`, apiKey: 'sk', maxRetries: 0, ...clientOptions }),
  };
}
