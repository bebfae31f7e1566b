// What must hold for the host app: the fake server runs on its own for a keyless quickstart,
// webhook deliveries never flood the app's sockets nor keep it alive, and attribution
// headers given as a client's defaultHeaders are read and never reach the provider.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { App, childEnv, freePort } from '../helpers/processes.js';

describe('the fake server on its own (keyless quickstart)', () => {
  it('prints its base URL, answers the real SDK, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const app = new App(
      ['examples/shared/fake-openai-server.mjs', '--port', String(port)],
      childEnv(),
    );
    try {
      const line = await app.firstLine();
      const baseURL = `http://127.0.0.1:${port}/v1`;
      expect(line).toBe(
        `Fake OpenAI-compatible server on ${baseURL} (try: OPENAI_BASE_URL=${baseURL} OPENAI_API_KEY=fake node --import tokenfuse/register app.mjs)`,
      );
      const client = new OpenAI({ baseURL, apiKey: 'fake', maxRetries: 0 });
      const reply = await client.chat.completions.create({
        model: 'gpt-4.1',
        messages: [{ role: 'user', content: 'Say hello' }],
      });
      expect(reply.choices[0]?.message.content).toBe('Hello from gpt-4.1 Hello from');
      expect(reply.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 5 });
      app.child.kill('SIGTERM');
      expect(await app.exited).toEqual({ code: 0, signal: null });
    } finally {
      await app.kill();
    }
  });

  it('refuses a bad --port with a usage line and exit code 2', async () => {
    const app = new App(['examples/shared/fake-openai-server.mjs', '--port', 'abc'], childEnv());
    expect(await app.exited).toEqual({ code: 2, signal: null });
    expect(app.stderr).toBe(
      'fake-openai-server: --port expects an integer 0..65535, got "abc"\n' +
        'usage: node examples/shared/fake-openai-server.mjs [--port 8787] [--host 127.0.0.1] [--chunk-delay-ms 0]\n',
    );
  });
});
