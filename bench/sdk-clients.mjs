// The SDK clients bench/sdks.mjs times: each SDK's own client, answered in-process by a
// canned response (the client's `fetch` option; Bedrock: a custom `requestHandler`), so no
// socket or server is on the measured path. Each spec can patch and unpatch its module with
// tokenfuse's own module definition, and streams as many chunks as it was last told to.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';

const require = createRequire(import.meta.url);

/**
 * The SDK specs, by the name `BENCH_SDKS` uses.
 * @param {{ definitions: { name: string, patch: Function, unpatch: Function }[], long: number, short: number }} opts
 */
export function sdkClients({ definitions, long: LONG, short: SHORT }) {
  /** The installed version of `pkg`, from the package.json above its entry point. */
  function versionOf(pkg) {
    let dir = dirname(require.resolve(pkg));
    for (;;) {
      try {
        const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
        if (json.version && json.name) return json.version;
      } catch {}
      const up = dirname(dir);
      if (up === dir) throw new Error(`bench: no package.json above ${pkg}`);
      dir = up;
    }
  }

  /** Patches or unpatches one loaded copy of an SDK with tokenfuse's own module definition. */
  function toggler(instrumentedName, moduleExports, version) {
    const def = definitions.find((d) => d.name === instrumentedName);
    let on = false;
    return (want) => {
      if (want === on) return;
      (want ? def.patch : def.unpatch)(moduleExports, version);
      on = want;
    };
  }

  // ---- canned answers --------------------------------------------------------
  const encoder = new TextEncoder();
  /** A response body that hands out one pre-encoded frame per read, as a socket would. */
  function frameStream(frames) {
    let i = 0;
    return new ReadableStream({
      pull(controller) {
        if (i < frames.length) controller.enqueue(frames[i++]);
        else controller.close();
      },
    });
  }
  const sse = (frames) =>
    new Response(frameStream(frames), { headers: { 'content-type': 'text/event-stream' } });
  const json = (body) => new Response(body, { headers: { 'content-type': 'application/json' } });
  /** Frames of a stream of `n` content chunks, built once for the long and the short length. */
  const byLength = (build) => ({ [LONG]: build(LONG), [SHORT]: build(SHORT) });
  let chunksNext = SHORT; // which canned stream the next streamed call gets
  // openai 4 sends its JSON body indented, the later majors compact.
  const STREAMING = /"stream":\s*true/;

  function openaiSpec(pkg) {
    const mod = require(pkg);
    const version = versionOf(pkg);
    const model = 'gpt-4.1-mini';
    const usage = (out) => ({
      prompt_tokens: 20,
      completion_tokens: out,
      total_tokens: 20 + out,
      prompt_tokens_details: { cached_tokens: 10 },
      completion_tokens_details: { reasoning_tokens: 0 },
    });
    const body = JSON.stringify({
      id: 'chatcmpl-bench',
      object: 'chat.completion',
      created: 1,
      model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'ok', refusal: null },
          finish_reason: 'stop',
        },
      ],
      usage: usage(2),
    });
    const frame = (choices, extra = {}) =>
      encoder.encode(
        `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1, model, choices, ...extra })}\n\n`,
      );
    const streams = byLength((n) => [
      frame([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]),
      ...Array.from({ length: n }, () =>
        frame([{ index: 0, delta: { content: 'word ' }, finish_reason: null }]),
      ),
      frame([{ index: 0, delta: {}, finish_reason: 'stop' }]),
      frame([], { usage: usage(n) }),
      encoder.encode('data: [DONE]\n\n'),
    ]);
    const client = new mod.OpenAI({
      apiKey: 'sk-bench',
      baseURL: 'http://bench.invalid/v1',
      maxRetries: 0,
      fetch: async (_url, init) =>
        STREAMING.test(init.body) ? sse(streams[chunksNext]) : json(body),
    });
    const messages = [{ role: 'user', content: 'hello' }];
    return {
      label: `openai ${version}${pkg === 'openai' ? '' : ` (${pkg})`}`,
      setInstrumented: toggler('openai', mod, version),
      call: () => client.chat.completions.create({ model, messages }),
      async stream() {
        let chunks = 0;
        const s = await client.chat.completions.create({ model, messages, stream: true });
        for await (const c of s) if (c.choices[0]?.delta?.content) chunks++;
        return chunks;
      },
    };
  }

  function anthropicSpec() {
    const mod = require('@anthropic-ai/sdk');
    const version = versionOf('@anthropic-ai/sdk');
    const model = 'claude-sonnet-4-5';
    const usage = {
      input_tokens: 20,
      cache_read_input_tokens: 10,
      cache_creation_input_tokens: 0,
      output_tokens: 2,
    };
    const message = { id: 'msg_bench', type: 'message', role: 'assistant', model };
    const body = JSON.stringify({
      ...message,
      content: [{ type: 'text', text: 'ok' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage,
    });
    const frame = (type, data) =>
      encoder.encode(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    const streams = byLength((n) => [
      frame('message_start', {
        message: {
          ...message,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { ...usage, output_tokens: 1 },
        },
      }),
      frame('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
      ...Array.from({ length: n }, () =>
        frame('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'word ' } }),
      ),
      frame('content_block_stop', { index: 0 }),
      frame('message_delta', {
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { output_tokens: n },
      }),
      frame('message_stop', {}),
    ]);
    const client = new mod.Anthropic({
      apiKey: 'sk-ant-bench',
      baseURL: 'http://bench.invalid',
      maxRetries: 0,
      fetch: async (_url, init) =>
        STREAMING.test(init.body) ? sse(streams[chunksNext]) : json(body),
    });
    const messages = [{ role: 'user', content: 'hello' }];
    return {
      label: `@anthropic-ai/sdk ${version}`,
      setInstrumented: toggler('@anthropic-ai/sdk', mod, version),
      call: () => client.messages.create({ model, max_tokens: 64, messages }),
      async stream() {
        let chunks = 0;
        const s = await client.messages.create({ model, max_tokens: 64, messages, stream: true });
        for await (const e of s) if (e.type === 'content_block_delta') chunks++;
        return chunks;
      },
    };
  }

  function googleSpec() {
    const mod = require('@google/genai');
    const version = versionOf('@google/genai');
    const model = 'gemini-2.5-flash';
    const usageMetadata = (out) => ({
      promptTokenCount: 20,
      cachedContentTokenCount: 10,
      candidatesTokenCount: out,
      thoughtsTokenCount: 0,
      totalTokenCount: 20 + out,
    });
    const response = (text, finish, usage) => ({
      candidates: [
        {
          content: { parts: [{ text }], role: 'model' },
          index: 0,
          ...(finish ? { finishReason: finish } : {}),
        },
      ],
      ...(usage ? { usageMetadata: usage } : {}),
      modelVersion: model,
      responseId: 'resp-bench',
    });
    const body = JSON.stringify(response('ok', 'STOP', usageMetadata(2)));
    const frame = (r) => encoder.encode(`data: ${JSON.stringify(r)}\r\n\r\n`);
    const running = { promptTokenCount: 20, totalTokenCount: 20 };
    const streams = byLength((n) =>
      Array.from({ length: n }, (_, i) =>
        frame(
          i === n - 1
            ? response('word ', 'STOP', usageMetadata(n))
            : response('word ', undefined, running),
        ),
      ),
    );
    const client = new mod.GoogleGenAI({
      apiKey: 'bench',
      httpOptions: {
        baseUrl: 'http://bench.invalid',
        fetch: async (url) =>
          String(url).includes('streamGenerateContent') ? sse(streams[chunksNext]) : json(body),
      },
    });
    const contents = 'hello';
    return {
      label: `@google/genai ${version}`,
      setInstrumented: toggler('@google/genai', mod, version),
      call: () => client.models.generateContent({ model, contents }),
      async stream() {
        let chunks = 0;
        for await (const c of await client.models.generateContentStream({ model, contents })) {
          if (c.candidates?.[0]) chunks++;
        }
        return chunks;
      },
    };
  }

  async function bedrockSpec() {
    const mod = require('@aws-sdk/client-bedrock-runtime');
    const version = versionOf('@aws-sdk/client-bedrock-runtime');
    const { EventStreamCodec } = await import('@smithy/core/event-streams');
    const codec = new EventStreamCodec(
      (bytes) => Buffer.from(bytes).toString('utf8'),
      (text) => new Uint8Array(Buffer.from(text, 'utf8')),
    );
    const event = (type, payload) =>
      codec.encode({
        headers: {
          ':event-type': { type: 'string', value: type },
          ':content-type': { type: 'string', value: 'application/json' },
          ':message-type': { type: 'string', value: 'event' },
        },
        body: encoder.encode(JSON.stringify(payload)),
      });
    const modelId = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
    const usage = (out) => ({ inputTokens: 20, outputTokens: out, totalTokens: 20 + out });
    const body = Buffer.from(
      JSON.stringify({
        output: { message: { role: 'assistant', content: [{ text: 'ok' }] } },
        stopReason: 'end_turn',
        usage: usage(2),
        metrics: { latencyMs: 1 },
      }),
    );
    const streams = byLength((n) => [
      event('messageStart', { role: 'assistant' }),
      ...Array.from({ length: n }, () =>
        event('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'word ' } }),
      ),
      event('contentBlockStop', { contentBlockIndex: 0 }),
      event('messageStop', { stopReason: 'end_turn' }),
      event('metadata', { usage: usage(n), metrics: { latencyMs: 1 } }),
    ]);
    const requestHandler = {
      async handle(request) {
        const stream = request.path.endsWith('/converse-stream');
        return {
          response: {
            statusCode: 200,
            reason: 'OK',
            headers: {
              'content-type': stream ? 'application/vnd.amazon.eventstream' : 'application/json',
              'x-amzn-requestid': 'req-bench',
            },
            body: stream ? Readable.from(streams[chunksNext]) : Readable.from([body]),
          },
        };
      },
      updateHttpClientConfig() {},
      httpHandlerConfigs: () => ({}),
    };
    const client = new mod.BedrockRuntimeClient({
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x' },
      maxAttempts: 1,
      requestHandler,
    });
    const messages = [{ role: 'user', content: [{ text: 'hello' }] }];
    return {
      label: `@aws-sdk/client-bedrock-runtime ${version}`,
      setInstrumented: toggler('@aws-sdk/client-bedrock-runtime', mod, version),
      call: () => client.send(new mod.ConverseCommand({ modelId, messages })),
      async stream() {
        let chunks = 0;
        const out = await client.send(new mod.ConverseStreamCommand({ modelId, messages }));
        for await (const e of out.stream) if (e.contentBlockDelta) chunks++;
        return chunks;
      },
    };
  }

  return {
    factories: {
      openai: () => openaiSpec('openai'),
      'openai-v4': () => openaiSpec('openai-v4'),
      anthropic: anthropicSpec,
      'google-genai': googleSpec,
      bedrock: bedrockSpec,
    },
    /** Which canned stream (`long` or `short` chunks) the next streamed call gets. */
    setStreamLength(n) {
      chunksNext = n;
    },
  };
}
