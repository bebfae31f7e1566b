// The tokenfuse bench: tokenfuse beside the bare openai SDK and the peers a user would pick
// instead, in one process, and then the Redis ledger and the soak. Prints one markdown table.
//
//   npm run bench                                  (from the repository root: builds, installs
//                                                   bench/'s own dependencies if missing, runs)
//   BENCH_ROUNDS=40 BENCH_SOAK_CALLS=50000 npm run bench      (a quick run)
//   BENCH_SECTIONS=sdk,redis npm run bench                    (some sections only)
//   BENCH_SECTIONS=instructions npm run bench   (opt-in, valgrind: bench/instructions.mjs)
//   BENCH_SECTIONS=instructions INSTR_SDKS=google-genai npm run bench   (other SDKs, the same)
//
// Environment (defaults in brackets):
//   BENCH_SECTIONS   sdk,sdks,budgets,redis,scrape,soak [all], or instructions (opt-in)
//   BENCH_ARMS       tokenfuse,traceloop,otel,langfuse,arize [these], and the opt-in floor
//                    (the OpenTelemetry span alone) and sampled (tokenfuse, spans sampled out)
//   BENCH_SDKS       openai-v4,openai,anthropic,google-genai,bedrock,ai-sdk [all] (sdks section)
//   BENCH_SDK_ARMS   opt-in arms on every SDK of the sdks section: floor,sampled,peer [none]
//   BENCH_ROUNDS     rounds (block pairs per arm) [300]
//   BENCH_CALLS      calls per call block [200]
//   BENCH_STREAMS    long/short stream pairs per stream block [2]
//   BENCH_LONG_CHUNKS, BENCH_SHORT_CHUNKS   [500, 50]
//   BENCH_WARMUP     untimed calls per arm before the rounds [2000]
//   BENCH_WARMUP_SECONDS   then whole rounds, discarded, until each section's measure has
//                    run this long [6]: a fresh process is up to 2× slower for its first seconds
//   BENCH_SETTLE     untimed calls after each switch of arm [20]
//   BENCH_CLOCK      cpu (process CPU time, user + system) or wall [cpu]
//   BENCH_SEED       seed of the block orders [13]
//   BENCH_REDIS_ROUNDS, BENCH_REDIS_CALLS, BENCH_REDIS_SECONDS   [BENCH_ROUNDS/3, 100, 10]
//   BENCH_SOAK_CALLS calls of bench/soak.mjs [1000000]
//
// Hooks: bench/budgets.mjs and bench/scrape.mjs, when present, each export
//   `async function bench(ctx): Promise<Row[]>` (Row: see stats.mjs), called with
//   ctx = { env, log, measure, arms: { bare, tokenfuseArm, ARM_FACTORIES }, summary }.
// Their rows join the one table. A file without a `bench` export runs as a child process (its
// output on stderr, a row with its exit code); an absent file gets a row saying so.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { ARM_FACTORIES, bare, OPENAI_VERSION, shutdownProviders, tokenfuseArm } from './arms.mjs';
import { instructions } from './instructions.mjs';
import { measure, measureSettings } from './measure.mjs';
import { redisBench } from './redis.mjs';
import { sdksSection } from './sdks.mjs';
import { summary, table } from './stats.mjs';

const num = (name, fallback) => Number(process.env[name] ?? fallback);
const list = (name, all) => process.env[name]?.split(',').map((s) => s.trim()) ?? all;
export const env = {
  sections: list('BENCH_SECTIONS', ['sdk', 'sdks', 'budgets', 'redis', 'scrape', 'soak']),
  // floor and sampled (bench/arms.mjs) only when asked for: they explain tokenfuse's figure.
  arms: list('BENCH_ARMS', ['tokenfuse', 'traceloop', 'otel', 'langfuse', 'arize']),
  ...measureSettings(300),
  soakCalls: num('BENCH_SOAK_CALLS', 1_000_000),
};
env.redisRounds = num('BENCH_REDIS_ROUNDS', Math.max(6, Math.round(env.rounds / 3)));
env.redisCalls = num('BENCH_REDIS_CALLS', 100);
env.redisSeconds = num('BENCH_REDIS_SECONDS', 10);

const TARGET = { call: 10, chunk: 0.3, budget: 0.5, admissions: 50_000 };
const log = (line) => process.stderr.write(`${line}\n`);
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');
const started = new Date();
const loadBefore = load();
const t0 = performance.now();
const rows = [];
const clockName = env.clock === 'cpu' ? 'CPU' : 'wall';

async function sdkSection() {
  const arms = [bare('bare openai (A)'), bare('bare openai (B)')];
  for (const name of env.arms) {
    if (!ARM_FACTORIES[name])
      throw new Error(`bench: unknown arm ${name} (${Object.keys(ARM_FACTORIES)})`);
    arms.push(await ARM_FACTORIES[name]());
  }
  log(`sdk: ${arms.map((a) => a.name).join(', ')}; ${env.rounds} rounds`);
  const f = await measure({ ...env, arms, log });
  const spec = {
    call: [`added per call, µs ${clockName}`, TARGET.call],
    ...(clockName === 'CPU' ? { wall: ['added per call, µs wall (same blocks)', undefined] } : {}),
    chunk: [`added per chunk (${env.long} − ${env.short}), µs ${clockName}`, TARGET.chunk],
    ttfc: [`added to first chunk, µs ${clockName}`, undefined],
  };
  for (const [kind, [figure, target]] of Object.entries(spec)) {
    const x = f[kind];
    rows.push({ figure: figure.replace('added', 'bare'), subject: 'openai', value: x.bare });
    for (const { arm, added } of x.added)
      rows.push({ figure, subject: arm.name, value: added, control: x.control, target });
  }
  const [a, b, ...rest] = f.latency;
  for (const { arm, latency } of [a, ...rest])
    rows.push({
      figure: 'one call, wall µs (p99 = of every call)',
      subject: arm.name,
      value: latency,
      control: b.latency.p99,
      note: 'control: bare B p99',
    });
}

async function hook(file) {
  if (!existsSync(new URL(file, import.meta.url))) {
    rows.push({ figure: file, subject: `(bench/${file} not present: not measured)`, value: NaN });
    return;
  }
  const url = new URL(file, import.meta.url);
  // A script written to run on its own (no `bench` export) runs as a child process instead:
  // importing it would run its top level inside this process, among the arms.
  if (!/export\s+(async\s+)?function\s+bench\b/.test(readFileSync(url, 'utf8'))) {
    const code = await child(url.pathname, [], process.env);
    rows.push({
      figure: file,
      subject: `bench/${file} (ran on its own, exit ${code})`,
      value: NaN,
      note: 'its own output is printed above, on stderr',
    });
    return;
  }
  const mod = await import(url.href);
  const ctx = { env, log, measure, arms: { bare, tokenfuseArm, ARM_FACTORIES }, summary };
  rows.push(...(await mod.bench(ctx)));
}

/** Runs a script in a child Node process; its stdout goes to our stderr and is returned. */
async function child(path, args, childEnv, onOut) {
  const proc = spawn(process.execPath, ['--expose-gc', path, ...args], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  proc.stdout.on('data', (d) => {
    onOut?.(d);
    process.stderr.write(d);
  });
  return new Promise((resolve) => proc.on('close', resolve));
}

/** bench/soak.mjs in a child process; its closing lines become rows. */
async function soakSection() {
  log(`soak: ${env.soakCalls} calls (bench/soak.mjs)`);
  let out = '';
  const code = await child(
    new URL('soak.mjs', import.meta.url).pathname,
    [],
    { ...process.env, SOAK_CALLS: String(env.soakCalls) },
    (d) => {
      out += d;
    },
  );
  const mem = (label) => {
    const m = out.match(
      new RegExp(`${label} \\(GC\\):\\s+heap used ([\\d.]+) MB, RSS ([\\d.]+) MB`),
    );
    return m ? { heap: Number(m[1]), rss: Number(m[2]) } : undefined;
  };
  const before = mem('after warm-up');
  const after = mem('after the run');
  const rate = out.match(/(\d+) calls in ([\d.]+) s \((\d+) calls\/s\)/);
  const verdict = code === 0 ? 'every invariant held' : `FAILED (exit ${code}), see its output`;
  rows.push({
    figure: 'soak: heap used after GC, MB (after warm-up → after run)',
    subject: `tokenfuse, ${env.soakCalls} calls`,
    value: after ? after.heap - before.heap : NaN,
    note: `${before?.heap} → ${after?.heap}; ${verdict}`,
  });
  rows.push({
    figure: 'soak: RSS, MB (after warm-up → after run)',
    subject: `tokenfuse, ${env.soakCalls} calls`,
    value: after ? after.rss - before.rss : NaN,
    note: `${before?.rss} → ${after?.rss}; ${rate ? `${rate[3]} calls/s` : ''}`,
  });
}

for (const section of env.sections) {
  const s0 = performance.now();
  if (section === 'sdk') await sdkSection();
  else if (section === 'sdks')
    rows.push(...(await sdksSection({ env, log, measure, target: TARGET, clockName })));
  else if (section === 'budgets') await hook('budgets.mjs');
  else if (section === 'scrape') await hook('scrape.mjs');
  else if (section === 'redis')
    rows.push(...(await redisBench({ env, log, measure, tokenfuseArm, target: TARGET })));
  else if (section === 'soak') await soakSection();
  else if (section === 'instructions') {
    const r = await instructions({ arms: env.arms, long: env.long, short: env.short, log });
    log(r.table);
    rows.push(...r.rows);
  } else throw new Error(`bench: unknown section ${section}`);
  log(`${section}: ${((performance.now() - s0) / 1000).toFixed(0)} s, load ${load()}`);
  // The rows so far, so a run cut short still leaves what it measured.
  log(table(rows));
}
await shutdownProviders();

const cpu = os.cpus();
console.log(
  [
    `## tokenfuse bench, ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `Machine: ${cpu.length} × ${cpu[0]?.model?.trim()} (${os.availableParallelism()} usable), ` +
      `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.type()} ${os.release()}; ` +
      `Node ${process.version}; openai ${OPENAI_VERSION}.`,
    `Load average (1/5/15 min): ${loadBefore} before, ${load()} after; ` +
      `${((performance.now() - t0) / 60000).toFixed(1)} min in all.`,
    `Method: ${env.rounds} rounds (block pairs) per arm, ${env.calls} calls per block, ` +
      `${env.streams}×(${env.long} − ${env.short})-chunk streams per block, ` +
      `${env.warmup} warm-up calls per arm then discarded rounds to ${env.warmupSeconds} s, ` +
      `${clockName} time; Redis: ${env.redisRounds} rounds ` +
      `of ${env.redisCalls} calls, wall time. Median [95% CI of the median]; p99 of the samples.`,
    '',
    table(rows),
  ].join('\n'),
);
