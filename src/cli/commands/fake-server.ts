/**
 * `tokenfuse fake-server`: the local, deterministic OpenAI-compatible server (it also
 * speaks Anthropic Messages, Gemini and Bedrock), so anyone can try the quickstart
 * without a key. The server is the examples' own (examples/shared/), bundled into the
 * CLI at build time.
 */
import type { Command } from 'commander';
import { CliError } from '../cli-error.js';

interface FakeServerOptions {
  port: string;
  host: string;
}

async function runFakeServer(opts: FakeServerOptions): Promise<void> {
  const port = Number(opts.port);
  if (!/^\d+$/.test(opts.port) || port > 65535)
    throw new CliError(`--port: expected an integer 0..65535, got ${JSON.stringify(opts.port)}`, 2);
  const { startFakeOpenAI } = await import('../../../examples/shared/fake-openai-server.mjs');
  const server = await startFakeOpenAI({ port, host: opts.host });
  process.stdout.write(
    `Fake OpenAI-compatible server on ${server.url}/v1 ` +
      `(try: OPENAI_BASE_URL=${server.url}/v1 OPENAI_API_KEY=fake node --import tokenfuse/register app.mjs)\n`,
  );
  const stop = () => {
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

/** Registers `fake-server` on the program. */
export function registerFakeServer(program: Command): void {
  program
    .command('fake-server')
    .description('run a local fake OpenAI-compatible LLM server (no key, deterministic answers)')
    .option('--port <port>', 'port to listen on (0: any free port)', '8787')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .action((opts: FakeServerOptions) => runFakeServer(opts));
}
