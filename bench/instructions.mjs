// Instructions per call added over bare, counted by valgrind's callgrind: a figure the machine's
// load does not move (unlike time), for each arm of bench/arms.mjs.
//
//   cd bench && node instructions.mjs                       (on its own: prints its table)
//   BENCH_SECTIONS=instructions npm run bench               (as a section of the bench)
//   BENCH_ARMS=tokenfuse,traceloop INSTR_SPIN=2 node instructions.mjs   (under load)
//   INSTR_SDKS=google-genai,ai-sdk node instructions.mjs     (other SDKs instead of openai 7)
//
// Method. JavaScript cannot switch callgrind's collection on and off, so each figure is the
// difference of two whole child processes (bench/instructions-loop.mjs) that differ only in
// how much they do after the same start-up and warm-up:
//   X = warm-up + N calls  + S streams of `short` chunks
//   Y = warm-up + 2N calls + S streams of `short` chunks     per call  = (Y − X) / N
//   Z = warm-up + N calls  + S streams of `long` chunks      per chunk = (Z − X) / (S·(long − short))
// Start-up, module loading and the JIT's warm-up work are the same instructions in all three
// and cancel. A full collection does not: each run is also made once natively with --trace-gc,
// and a figure whose runs differ in their Mark-Compacts is marked in the table (one collection
// of a large heap, over a few hundred calls, is millions of instructions a call). Every run is made twice (INSTR_REPEATS): the two figures side by side are the
// A-vs-A of the method. The child runs V8 with the flags of FLAGS below, which take time out of
// what it does (no background threads, a fixed GC schedule, fixed seeds).
//
// Environment (defaults in brackets; BENCH_ARMS, BENCH_LONG_CHUNKS, BENCH_SHORT_CHUNKS as in
// bench/run.mjs):
//   INSTR_WARMUP [1000]  INSTR_CALLS (N, 0: no per call) [200]
//   INSTR_STREAMS (S, 0: no per chunk) [4]
//   INSTR_REPEATS [2]
//   INSTR_JOBS   children under valgrind at once [2]
//   INSTR_TOOL   callgrind, or cachegrind (the same Ir count, faster: see TOOL below) [callgrind]
//   INSTR_SPIN   busy-looping processes to run meanwhile, to show load does not move it [0]
//   INSTR_SDKS   opt-in: instead of the openai 7 arms of BENCH_ARMS, two arms per SDK named
//                here (names of BENCH_SDKS: openai-v4, openai, anthropic, google-genai,
//                bedrock, ai-sdk): that SDK's own client of bench/sdk-clients.mjs bare and with
//                tokenfuse (patched, or for the AI SDK wrapped in tokenfuseMiddleware()), each
//                tokenfuse figure taken over its own SDK's bare one [unset: openai 7 arms]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { num } from './stats.mjs';

/** V8 flags of the counted child: each removes a source of run-to-run difference. */
export const FLAGS = [
  '--single-threaded', // no concurrent compilation or GC helpers: one thread does all
  '--expose-gc',
  '--predictable-gc-schedule', // heap growth not from measured GC/mutator speeds (time)
  '--hash-seed=1',
  '--random-seed=1',
];
const LOOP = fileURLToPath(new URL('instructions-loop.mjs', import.meta.url));
const ARMS = ['tokenfuse', 'traceloop', 'otel', 'langfuse', 'arize'];

const int = (name, fallback) => Number(process.env[name] ?? fallback);

/** The children still running: ended (by pid) if this process is interrupted. */
const running = new Set();
const dirs = new Set();
function track(proc) {
  running.add(proc);
  proc.on('exit', () => running.delete(proc));
  return proc;
}
for (const signal of ['SIGINT', 'SIGTERM'])
  process.once(signal, () => {
    for (const p of running) p.kill('SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    process.exit(130);
  });

// INSTR_TOOL=cachegrind: valgrind's cachegrind with its cache simulation off counts the same
// instructions (Ir) without callgrind's call graph, in about 0.57 of the CPU time (a JSON loop
// in node: 4,481,839,224 Ir against callgrind's 4,482,926,403, 17.5 s against 30.8 s). Compare
// counts of one tool only.
const TOOL = process.env.INSTR_TOOL === 'cachegrind' ? 'cachegrind' : 'callgrind';
const TOOL_ARGS =
  TOOL === 'cachegrind' ? ['--tool=cachegrind', '--cache-sim=no'] : ['--tool=callgrind'];

/**
 * Runs one child (tracked, so an interrupted run ends it) with one libuv worker thread: the
 * loop does no file or DNS work, but the pool exists. Resolves to its output; rejects, with
 * what it wrote to stderr, when it exits other than 0.
 */
function child(command, args, what) {
  const proc = track(
    spawn(command, args, {
      env: { ...process.env, UV_THREADPOOL_SIZE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => {
    stdout += d;
  });
  proc.stderr.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`bench: ${what} exited ${code}\n${stderr}`));
    });
  });
}

/** Runs `node FLAGS loop args` under valgrind; resolves to its total Ir and the arm's name. */
async function counted(dir, id, args) {
  const out = join(dir, `${id}.${TOOL}`);
  const stdout = await child(
    'valgrind',
    [
      ...TOOL_ARGS,
      `--${TOOL}-out-file=${out}`,
      process.execPath,
      ...FLAGS,
      LOOP,
      ...args.map(String),
    ],
    `${args.join(' ')} under ${TOOL}`,
  );
  const m = readFileSync(out, 'utf8').match(/^summary:\s+(\d+)/m);
  rmSync(out, { force: true });
  if (!m) throw new Error(`bench: no summary line in the ${TOOL} output of ${id}`);
  return { ir: Number(m[1]), name: stdout.trim() };
}

/**
 * The full collections (Mark-Compact) one run makes: the same child with the same flags,
 * natively with --trace-gc (the schedule is predictable, so it is the run valgrind counted).
 * One collection more in X than in Y (or Z) is millions of instructions inside a difference
 * of a few hundred calls: such a figure is the collector's, not the arm's.
 */
async function fullCollections(args) {
  const stdout = await child(
    process.execPath,
    [...FLAGS, '--trace-gc', LOOP, ...args.map(String)],
    `${args.join(' ')} with --trace-gc`,
  );
  return stdout.match(/Mark-Compact/g)?.length ?? 0;
}

/** Runs the thunks `jobs` at a time; resolves to their results in order. */
async function pool(thunks, jobs) {
  const results = new Array(thunks.length);
  let next = 0;
  const worker = async () => {
    while (next < thunks.length) {
      const i = next++;
      results[i] = await thunks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, thunks.length) }, worker));
  return results;
}

// A busy loop that also ends itself, within a second, once its parent has gone (a run cut
// short by Ctrl-C must not leave it spinning).
const SPINNER =
  'const p = Number(process.argv[1]); for (let i = 1; ; i++) if (i % 1e7 === 0 && process.ppid !== p) break;';

/** Starts `n` busy-looping Node processes; returns a function that ends them (by pid). */
function spin(n) {
  const procs = Array.from({ length: n }, () =>
    track(spawn(process.execPath, ['-e', SPINNER, String(process.pid)], { stdio: 'ignore' })),
  );
  return () => {
    for (const p of procs) p.kill('SIGKILL');
  };
}

const spread = (a, b) => (Math.abs(a - b) / ((Math.abs(a) + Math.abs(b)) / 2)) * 100;
const pct = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}%` : '–');

/**
 * Counts every arm; returns { table (markdown), rows (bench/stats.mjs Rows) }. With `sdks`
 * (or INSTR_SDKS), the arms are `<sdk>:bare` and `<sdk>:tokenfuse` per SDK instead.
 * @param {{ arms?: string[], sdks?: string[], long?: number, short?: number, log?: (line: string) => void }} [o]
 */
export async function instructions(o = {}) {
  const log = o.log ?? ((line) => process.stderr.write(`${line}\n`));
  const sdks = o.sdks ?? process.env.INSTR_SDKS?.split(',').map((s) => s.trim());
  const arms = sdks
    ? sdks.flatMap((sdk) => [`${sdk}:bare`, `${sdk}:tokenfuse`])
    : ['bare', ...(o.arms ?? ARMS)];
  // The arm each one's added figure is taken over: its own SDK's bare client.
  const baseOf = (arm) => (sdks ? `${arm.split(':')[0]}:bare` : 'bare');
  const isBare = (arm) => baseOf(arm) === arm;
  const long = o.long ?? 500;
  const short = o.short ?? 50;
  // 200 was too short: the calls counted after it still ran at several times the CPU time per
  // call that they take from about the 1000th on (native, --single-threaded), JIT work in them.
  const W = int('INSTR_WARMUP', 1000);
  const N = int('INSTR_CALLS', 200);
  const S = int('INSTR_STREAMS', 4);
  const repeats = int('INSTR_REPEATS', 2);
  const jobs = int('INSTR_JOBS', 2);
  const spinners = int('INSTR_SPIN', 0);
  // S = 0: no streams counted, no Z run, no per-chunk figure; N = 0: no Y run, no per call.
  const runs = {
    X: [N, S, short],
    ...(N > 0 && { Y: [2 * N, S, short] }),
    ...(S > 0 && { Z: [N, S, long] }),
  };
  const dir = mkdtempSync(join(os.tmpdir(), 'tokenfuse-instr-'));
  dirs.add(dir);
  const stop = spin(spinners);
  const t0 = Date.now();
  log(
    `instructions (${TOOL}): ${arms.join(', ')}; warm-up ${W}, N ${N}, S ${S}×(${long} − ${short}), ` +
      `${repeats} repeats, ${jobs} at once, ${spinners} spinners, load ${os.loadavg()[0].toFixed(2)}`,
  );
  // Repeat by repeat, so that a run cut short has every arm once (each run's count is logged).
  const thunks = [];
  for (let r = 0; r < repeats; r++)
    for (const arm of arms)
      for (const [run, args] of Object.entries(runs))
        thunks.push(async () => {
          const t = Date.now();
          const res = await counted(dir, `${arm}-${run}-${r}`, [arm, W, ...args]);
          log(`  ${arm} ${run}#${r + 1}: ${res.ir} Ir (${((Date.now() - t) / 1000).toFixed(0)} s)`);
          return { arm, r, run, ...res };
        });
  let results;
  try {
    results = await pool(thunks, jobs);
  } finally {
    stop();
    rmSync(dir, { recursive: true, force: true });
  }
  // The full collections of each arm's runs (native, seconds each): a per-call or per-chunk
  // figure whose runs differ in them is marked, never printed as if it were the arm's.
  const gcs = new Map();
  const gcThunks = arms.flatMap((arm) =>
    Object.entries(runs).map(([run, args]) => async () => {
      gcs.set(`${arm} ${run}`, await fullCollections([arm, W, ...args]));
    }),
  );
  await pool(gcThunks, jobs);
  const lumped = (arm, run) => gcs.get(`${arm} X`) !== gcs.get(`${arm} ${run}`);
  const seconds = (Date.now() - t0) / 1000;
  const per = new Map();
  for (const arm of arms) {
    const mine = results.filter((x) => x.arm === arm);
    const ir = (run, r) => mine.find((x) => x.run === run && x.r === r).ir;
    const call = [];
    const chunk = [];
    for (let r = 0; r < repeats; r++) {
      call.push(N > 0 ? (ir('Y', r) - ir('X', r)) / N : NaN);
      chunk.push(S > 0 ? (ir('Z', r) - ir('X', r)) / (S * (long - short)) : NaN);
    }
    per.set(arm, { name: mine[0].name, call, chunk });
  }
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const traceloop = per.get('traceloop');
  const added = (x, kind) => mean(x[kind]) - mean(x.bare[kind]);
  // What an arm adds, with its share of its bare arm's count.
  const addedCell = (x, kind) =>
    `${num(added(x, kind))} (${pct((added(x, kind) / mean(x.bare[kind])) * 100)})`;
  for (const [arm, x] of per) x.bare = per.get(baseOf(arm));
  const chunks = S > 0;
  const head = ['arm', 'Ir per call', 'added over bare'];
  if (!sdks) head.push('÷ Traceloop added');
  head.push('repeats (A-vs-A)');
  if (chunks) head.push('Ir per chunk', 'added per chunk', 'repeats (A-vs-A)');
  const lines = [`| ${head.join(' | ')} |`, `|${' --- |'.repeat(head.length)}`];
  const rows = [];
  for (const [arm, x] of per) {
    const bare = x.bare;
    const ratio = traceloop && !isBare(arm) ? added(x, 'call') / added(traceloop, 'call') : NaN;
    // Both repeats and how far apart they are (max − min over their mean).
    const both = (xs) =>
      xs.length < 2
        ? 'one run'
        : `${xs.map((v) => num(v)).join(' / ')} (${pct(spread(Math.max(...xs), Math.min(...xs)))})`;
    // One full collection more in Y (or Z) than in X, in this arm or its bare: not a figure.
    const gcNote = (run) => {
      const bad = [arm, baseOf(arm)].filter((a, i, all) => all.indexOf(a) === i && lumped(a, run));
      return bad.length === 0
        ? ''
        : ` ⚠ full collections differ (${bad
            .map((a) => `${a}: X ${gcs.get(`${a} X`)}, ${run} ${gcs.get(`${a} ${run}`)}`)
            .join('; ')}): the collector's, not the arm's`;
    };
    x.gc = { call: N > 0 ? gcNote('Y') : '', chunk: chunks ? gcNote('Z') : '' };
    const cells = [
      x.name,
      num(mean(x.call)),
      isBare(arm) ? x.gc.call : addedCell(x, 'call') + x.gc.call,
    ];
    if (!sdks) cells.push(Number.isFinite(ratio) ? ratio.toFixed(2) : '');
    cells.push(both(x.call));
    if (chunks)
      cells.push(
        num(mean(x.chunk)),
        isBare(arm) ? x.gc.chunk : addedCell(x, 'chunk') + x.gc.chunk,
        both(x.chunk),
      );
    lines.push(`| ${cells.join(' | ')} |`);
    if (isBare(arm)) continue;
    for (const kind of ['call', 'chunk'].filter((k) => (k === 'call' ? N > 0 : chunks)))
      rows.push({
        figure: `added per ${kind}, instructions (${TOOL} Ir)`,
        subject: x.name,
        value: added(x, kind),
        note: `repeats ${x[kind].map((v) => num(v)).join(' / ')}; bare ${bare[kind].map((v) => num(v)).join(' / ')}${x.gc[kind]}`,
      });
  }
  const table = lines.join('\n');
  log(`instructions: ${seconds.toFixed(0)} s, load ${os.loadavg()[0].toFixed(2)} at the end`);
  return { table, rows, seconds };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arms = process.env.BENCH_ARMS?.split(',').map((s) => s.trim());
  const long = process.env.BENCH_LONG_CHUNKS && Number(process.env.BENCH_LONG_CHUNKS);
  const short = process.env.BENCH_SHORT_CHUNKS && Number(process.env.BENCH_SHORT_CHUNKS);
  const { table } = await instructions({ arms, long: long || 500, short: short || 50 });
  console.log(table);
}
