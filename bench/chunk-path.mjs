// Instructions tokenfuse's own code adds to one streamed chunk, counted apart from any SDK: a
// synthetic `@google/genai` stream (an async generator of `GenerateContentResponse`-shaped
// chunks, each JSON-parsed as the SDK does) read bare, and read through what an instrumented
// Gemini stream goes through (`genaiPromises.wrapStream`, `ObservedIterator`, `LlmCall` and the
// Gemini adapter, built from src/ with esbuild). No HTTP, no OpenTelemetry SDK, no span: the
// span and the accountant are stubs, their work is per call, not per chunk.
//
//   cd bench && node chunk-path.mjs
//
// Why: a bare Gemini chunk of the real SDK costs ~173k instructions (its own JSON.parse of
// every SSE frame throws and catches a SyntaxError), and the instructions.mjs count of it moves
// by tens of millions per run, so it cannot see the few hundred tokenfuse adds; here a bare
// chunk is ~17k and the count is the same to the instruction run after run.
//
// Method as instructions.mjs: X = warm-up + S streams of 50 chunks, Z = the same with 550;
// per chunk = (Z − X) / (S · 500). Environment: CHUNK_WARMUP streams of 500 [400], CHUNK_S
// [20], CHUNK_REPEATS [2]; CHUNK_SRC, a checkout whose src/ to build [this one's].
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FLAGS } from './instructions.mjs';
import { require } from './sdk-fakes.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const src = resolve(process.env.CHUNK_SRC ?? join(here, '..'), 'src/instrumentation');
const W = Number(process.env.CHUNK_WARMUP ?? 400);
const S = Number(process.env.CHUNK_S ?? 20);
const repeats = Number(process.env.CHUNK_REPEATS ?? 2);

// The counted child: `node <bundle> <bare|tokenfuse> <warm-up> <streams> <chunks>`.
const entry = `
import { generateContentStreamAdapter } from '${src}/google-genai/generate-content.js';
import { genaiPromises } from '${src}/google-genai/promises.js';
import { LlmCall } from '${src}/llm-call.js';

class GenerateContentResponse {}
const frame = (finish, usage) => JSON.stringify({
  candidates: [{ content: { parts: [{ text: 'word ' }], role: 'model' }, index: 0, ...(finish ? { finishReason: finish } : {}) }],
  usageMetadata: usage, modelVersion: 'gemini-2.5-flash', responseId: 'resp-bench' });
const mid = frame(undefined, { promptTokenCount: 20, totalTokenCount: 20 });
const last = frame('STOP', { promptTokenCount: 20, candidatesTokenCount: 9, totalTokenCount: 29 });
async function* sdkStream(n) {
  for (let i = 0; i < n; i++)
    yield Object.assign(new GenerateContentResponse(), JSON.parse(i === n - 1 ? last : mid));
}
const span = { setAttribute: () => span, setAttributes: () => span, setStatus: () => span,
  isRecording: () => false, end() {} };
let accounted = 0;
const accountant = { prices: { catalogProviderId: () => 'google' }, genAiLatest: false,
  account() { accounted++; return { costUsd: 0, priced: true, catalogUsd: 0, fromProvider: false }; } };
const sides = {
  bare: (n) => sdkStream(n),
  tokenfuse: (n) => new LlmCall({ adapter: generateContentStreamAdapter, promises: genaiPromises,
    body: { model: 'gemini-2.5-flash', contents: 'hi' }, injectedUsage: false, span, ctx: undefined,
    tags: {}, provider: 'google', providerName: 'gcp.gemini', model: 'gemini-2.5-flash', accountant,
    captureContent: false, startedAt: 0, startTime: 0, admission: undefined, board: {} }).onResult(sdkStream(n)),
};
const [side, warm, streams, chunks] = [process.argv[2], ...process.argv.slice(3).map(Number)];
const read = async (n) => { let k = 0; for await (const c of sides[side](n)) if (c.candidates) k++; return k; };
for (let i = 0; i < warm; i++) await read(500);
const before = accounted;
for (let i = 0; i < streams; i++) if ((await read(chunks)) !== chunks) throw new Error('bench: lost a chunk');
if (side === 'tokenfuse' && accounted - before !== streams) throw new Error('bench: a stream was not accounted');
process.exit(0);
`;

const bundle = join(here, `.chunk-path-${process.pid}.mjs`);
const { buildSync } = require('esbuild');
buildSync({
  stdin: { contents: entry, resolveDir: here, loader: 'js' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  packages: 'external',
  outfile: bundle,
  logLevel: 'warning',
});

function count(side, chunks) {
  const out = join(here, `.chunk-path-${process.pid}.cg`);
  const r = spawnSync(
    'valgrind',
    [
      '--tool=cachegrind',
      '--cache-sim=no',
      `--cachegrind-out-file=${out}`,
      process.execPath,
      ...FLAGS,
      bundle,
      side,
      String(W),
      String(S),
      String(chunks),
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`bench: ${side} ${chunks} exited ${r.status}\n${r.stderr}`);
  const ir = Number(readFileSync(out, 'utf8').match(/^summary:\s+(\d+)/m)[1]);
  rmSync(out, { force: true });
  return ir;
}

try {
  const per = { bare: [], tokenfuse: [] };
  for (let r = 0; r < repeats; r++)
    for (const side of Object.keys(per)) {
      const ir = (count(side, 550) - count(side, 50)) / (S * 500);
      per[side].push(ir);
      process.stderr.write(`  ${side} #${r + 1}: ${ir.toFixed(0)} Ir per chunk\n`);
    }
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`src: ${src}; warm-up ${W} streams, S ${S}, ${repeats} repeats`);
  console.log(
    `bare      ${mean(per.bare).toFixed(0)} Ir per chunk (${per.bare.map((x) => x.toFixed(0)).join(' / ')})`,
  );
  console.log(
    `tokenfuse ${mean(per.tokenfuse).toFixed(0)} Ir per chunk (${per.tokenfuse.map((x) => x.toFixed(0)).join(' / ')}), adds ${(mean(per.tokenfuse) - mean(per.bare)).toFixed(0)}`,
  );
} finally {
  rmSync(bundle, { force: true });
}
