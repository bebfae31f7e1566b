// Alternating blocks: every round runs one block of each arm, in a fresh (seeded) random
// order, so every arm, and the bare B control, sits at the same spread of distances from the
// bare A block it is compared with; drift (JIT, GC, a busy neighbour) hits all arms alike.
// Per round and arm one sample: µs per call (a block of calls), µs per chunk (the marginal
// cost: long streams minus short ones, over the chunks between them, so the per-call part
// cancels) and µs to the first chunk. Added by an arm = its sample minus bare A's of the
// same round; the A-vs-A control = bare B minus bare A, what noise alone makes of one code.
// An arm calls openai 7's chat completions through its `client` unless it brings its own
// `call()` and `stream(n, now)` (bench/sdks.mjs: each SDK's own client).
import { performance } from 'node:perf_hooks';
import { call, mark, proveInstrumented, stream } from './arms.mjs';
import { prng, shuffled, summary } from './stats.mjs';

/**
 * The block runner's settings from the environment, as run.mjs documents them (BENCH_ROUNDS,
 * BENCH_CALLS, BENCH_STREAMS, BENCH_LONG_CHUNKS, BENCH_SHORT_CHUNKS, BENCH_WARMUP,
 * BENCH_WARMUP_SECONDS, BENCH_SETTLE, BENCH_SEED, BENCH_CLOCK), with `rounds` as the default
 * number of rounds: every script that calls `measure` reads them alike.
 */
export function measureSettings(rounds) {
  const num = (name, fallback) => Number(process.env[name] ?? fallback);
  return {
    rounds: num('BENCH_ROUNDS', rounds),
    calls: num('BENCH_CALLS', 200),
    streams: num('BENCH_STREAMS', 2),
    long: num('BENCH_LONG_CHUNKS', 500),
    short: num('BENCH_SHORT_CHUNKS', 50),
    warmup: num('BENCH_WARMUP', 2000),
    warmupSeconds: num('BENCH_WARMUP_SECONDS', 6),
    settle: num('BENCH_SETTLE', 20),
    seed: num('BENCH_SEED', 13),
    clock: process.env.BENCH_CLOCK === 'wall' ? 'wall' : 'cpu',
  };
}

/** Now, in µs: the process's CPU time (user + system, all threads, so GC counts), or wall. */
export function clock(kind) {
  if (kind === 'wall') return () => performance.now() * 1000;
  return () => {
    const { user, system } = process.cpuUsage();
    return user + system;
  };
}

/**
 * Runs the rounds and returns, per arm, the samples and, for each instrumented arm, the
 * summaries of what it adds over bare A (with bare B − bare A as the control).
 * @param {object} o
 * @param {import('./arms.mjs').Arm[]} o.arms bare A first, bare B second, then the others
 * @param {number} o.rounds
 * @param {number} o.calls calls per call block
 * @param {number} o.streams long/short stream pairs per stream block (0: no stream block)
 * @param {number} o.long chunks in a long stream
 * @param {number} o.short chunks in a short stream
 * @param {number} o.warmup untimed calls per arm before the first round
 * @param {number} [o.warmupSeconds] then untimed rounds until this long since the start [0]
 * @param {number} o.settle untimed calls after switching arms, before a timed block
 * @param {'cpu' | 'wall'} o.clock
 * @param {number} [o.seed]
 * @param {(line: string) => void} o.log
 */
export async function measure(o) {
  const now = clock(o.clock);
  const random = prng(o.seed ?? 13);
  const fresh = () => ({ call: [], wall: [], chunk: [], ttfc: [], latency: [] });
  const samples = new Map(o.arms.map((a) => [a, fresh()]));
  let current;
  /** Only one arm patched at a time: switch the last one off before the next goes on. */
  function use(arm) {
    if (current && current.set !== arm.set) current.set(false);
    arm.set(true);
    current = arm;
  }
  async function callBlock(arm, out) {
    const latency = out?.latency;
    const w0 = performance.now();
    const t0 = now();
    for (let i = 0; i < o.calls; i++) {
      const w = latency ? performance.now() : 0;
      await (arm.call ? arm.call() : call(arm.client));
      if (latency) latency.push((performance.now() - w) * 1000);
    }
    const t1 = now();
    // The same block on the wall clock too: with the CPU clock, what the wall clock does not
    // see ran on another thread (the collector's helpers, the JIT's background compiles).
    out?.wall.push(((performance.now() - w0) * 1000) / o.calls);
    return (t1 - t0) / o.calls;
  }
  async function streamBlock(arm) {
    let long = 0;
    let short = 0;
    let ttfc = 0;
    for (let i = 0; i < o.streams; i++) {
      for (const n of i % 2 === 0 ? [o.long, o.short] : [o.short, o.long]) {
        const r = await (arm.stream ? arm.stream(n, now) : stream(arm.client, n, now));
        if (n === o.long) long += r.total;
        else short += r.total;
        ttfc += r.ttfc;
      }
    }
    return {
      chunk: (long - short) / (o.streams * (o.long - o.short)),
      ttfc: ttfc / (2 * o.streams),
    };
  }

  /** One round: a block of each arm in a random order; its samples kept only if `keep`. */
  async function round(random, keep) {
    for (const arm of shuffled(o.arms, random)) {
      use(arm);
      const s = keep ? samples.get(arm) : fresh();
      for (let i = 0; i < o.settle; i++) await (arm.call ? arm.call() : call(arm.client));
      let from = await mark(arm);
      s.call.push(await callBlock(arm, keep ? s : undefined));
      await proveInstrumented(arm, from, o.calls);
      if (o.streams) {
        from = await mark(arm);
        const b = await streamBlock(arm);
        await proveInstrumented(arm, from, 2 * o.streams);
        s.chunk.push(b.chunk);
        s.ttfc.push(b.ttfc);
      }
    }
  }

  const t0 = performance.now();
  for (const arm of o.arms) {
    use(arm);
    for (let done = 0; done < o.warmup; done += o.calls) {
      await callBlock(arm);
      if (o.streams) await streamBlock(arm);
    }
  }
  // Then whole rounds, discarded, until the section has run `warmupSeconds`: a fresh process
  // runs the same calls up to twice as slow for its first seconds (the JIT's optimising tiers
  // and V8's heap sizing settle over ~40,000 calls, not 2,000: docs/performance.md, _Warm-up_),
  // and a service that makes LLM calls all day is past that.
  let warmRounds = 0;
  const warmRandom = prng((o.seed ?? 13) + 7919);
  while (performance.now() - t0 < (o.warmupSeconds ?? 0) * 1000) {
    await round(warmRandom, false);
    warmRounds++;
  }
  o.log(
    `  warm-up done in ${((performance.now() - t0) / 1000).toFixed(0)} s ` +
      `(${o.warmup} calls per arm, then ${warmRounds} discarded rounds)`,
  );
  const t1 = performance.now();
  for (let r = 0; r < o.rounds; r++) {
    await round(random, true);
    if ((r + 1) % Math.max(1, Math.round(o.rounds / 10)) === 0)
      o.log(`  round ${r + 1}/${o.rounds}, ${((performance.now() - t1) / 1000).toFixed(0)} s`);
  }
  current?.set(false);

  const [a, b, ...instrumented] = o.arms;
  const A = samples.get(a);
  const B = samples.get(b);
  const minus = (x, y) => x.map((v, i) => v - y[i]);
  const figures = {};
  for (const kind of ['call', 'wall', 'chunk', 'ttfc']) {
    if (A[kind].length === 0) continue;
    figures[kind] = {
      bare: summary(A[kind]),
      control: summary(minus(B[kind], A[kind])),
      added: instrumented.map((arm) => ({
        arm,
        added: summary(minus(samples.get(arm)[kind], A[kind])),
      })),
    };
  }
  // Tail latency of single calls (wall clock), per arm: a real p99 of many calls.
  figures.latency = o.arms.map((arm) => ({ arm, latency: summary(samples.get(arm).latency) }));
  return figures;
}
