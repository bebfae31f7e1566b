// Instructions per call, bare and with tokenfuse, in ONE process: blocks of calls on the same
// client alternate between unpatched and patched (bare, tokenfuse, bare again: the A-vs-A
// control), and callgrind dumps its counters between blocks, so every block's count is its
// own. What does not repeat (the JIT still compiling the SDK, a collection) lands in one block
// and shows as a jump of that block beside its round's others, instead of inside a figure, as
// in instructions.mjs, whose (Y − X) of two processes takes in whatever the JIT did in one
// and not the other (Bedrock's bare call still compiles thousands of calls in). Read the
// rounds, not only the medians: a round with a jump in one block decides nothing.
//
//   cd bench && node callgrind-blocks.mjs <sdk> [rounds] [calls per block] [warm-up]
//   node callgrind-blocks.mjs bedrock 8 100 1000
//
// <sdk>: a name of BENCH_SDKS (bench/sdks.mjs sdkSides). The mark between blocks is a call
// of process.getegid(), which nothing else makes: callgrind runs with --dump-before on the
// native function behind it, so each dump holds the instructions since the last one. A block
// starts BLOCKS_SETTLE (100) calls after each switch, uncounted (the switch itself changes the
// method the call sites see). Each block is printed with every instruction, and without the
// JIT compiler's own; BLOCKS_CACHE=1 adds L1 and last-level misses per call, and BLOCKS_LL
// sets the simulated last level (valgrind's --LL=size,assoc,line; e.g. 524288,8,64, a
// second-level cache's size, to see what a call reloads from beyond it). Figures: per call,
// the median over rounds of (tokenfuse − bare before it) and of (bare after − bare before),
// with their range.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FLAGS } from './instructions.mjs';

const SETTLE = Number(process.env.BLOCKS_SETTLE ?? 100);
const [sdk = 'bedrock', roundsArg = '8', callsArg = '100', warmArg = '1000'] =
  process.argv.slice(2);

if (process.env.CALLGRIND_BLOCKS_CHILD === '1') {
  const { tokenfuseArm } = await import('./arms.mjs');
  const { sdkSides } = await import('./sdks.mjs');
  const { tf } = await tokenfuseArm({}, 'tokenfuse');
  const sides = await sdkSides(sdk, tf, tf.instrumentation.getModuleDefinitions());
  const set = sides.tokenfuse.set;
  const call = sides.bare.call;
  // Warm-up on both sides, switching as the counted part does.
  for (let i = 0; i < Number(warmArg); i++) {
    if (i % 100 === 0) set((i / 100) % 2 === 1);
    await call();
  }
  const block = async (on) => {
    set(on);
    for (let i = 0; i < SETTLE; i++) await call();
    process.getegid(); // dump: what came before
    for (let i = 0; i < Number(callsArg); i++) await call();
    process.getegid(); // dump: this block
  };
  for (let r = 0; r < Number(roundsArg); r++) {
    await block(false);
    await block(true);
    await block(false);
  }
  process.exit(0);
}

/** The JIT compiler's functions (V8's TurboFan, Turboshaft, Maglev, and compiling at large). */
const JIT = /compiler|turboshaft|maglev|Compil|Deoptimiz/i;

/** One dump: its total Ir (`all`) and the total without the JIT compiler's self cost (`net`). */
function parseDump(text) {
  const names = new Map();
  const label = (s) => {
    const m = /^\((\d+)\)(?: (.*))?$/.exec(s);
    if (!m) return s;
    if (m[2] !== undefined) names.set(m[1], m[2]);
    return names.get(m[1]) ?? s;
  };
  let fn = '';
  let jit = false;
  let inCall = false;
  let all = 0;
  let jitIr = 0;
  let events = ['Ir'];
  const sums = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('events:')) events = line.slice(7).trim().split(/\s+/);
    else if (line.startsWith('fn=')) {
      fn = label(line.slice(3));
      jit = JIT.test(fn);
    } else if (line.startsWith('cfn=')) label(line.slice(4));
    else if (line.startsWith('calls=')) inCall = true;
    else if (/^[+\-*]?\d/.test(line)) {
      if (inCall) {
        inCall = false; // a call's inclusive cost: counted in the callee's own lines
        continue;
      }
      // A position, then one count per event (trailing zeros left out).
      const cols = line.trim().split(/\s+/).slice(1).map(Number);
      const ir = cols[0] ?? 0;
      if (Number.isNaN(ir)) continue;
      all += ir;
      if (jit) jitIr += ir;
      for (let e = 0; e < cols.length; e++) sums[e] = (sums[e] ?? 0) + cols[e];
    }
  }
  const byEvent = Object.fromEntries(events.map((e, i) => [e, sums[i] ?? 0]));
  return { all, net: all - jitIr, byEvent };
}

const dir = mkdtempSync(join(os.tmpdir(), 'tf-blocks-'));
try {
  const out = join(dir, 'cg.out');
  const code = await new Promise((resolve) => {
    const proc = spawn(
      'valgrind',
      [
        '--tool=callgrind',
        `--callgrind-out-file=${out}`,
        '--dump-before=*GetEGid*',
        // BLOCKS_CACHE=1: callgrind's cache simulation too (misses per call beside the count).
        ...(process.env.BLOCKS_CACHE === '1' ? ['--cache-sim=yes'] : []),
        ...(process.env.BLOCKS_LL ? [`--LL=${process.env.BLOCKS_LL}`] : []),
        process.execPath,
        ...FLAGS,
        fileURLToPath(import.meta.url),
        sdk,
        roundsArg,
        callsArg,
        warmArg,
      ],
      {
        env: { ...process.env, CALLGRIND_BLOCKS_CHILD: '1', UV_THREADPOOL_SIZE: '1' },
        stdio: ['ignore', 'inherit', 'pipe'],
      },
    );
    let stderr = '';
    proc.stderr.on('data', (d) => {
      stderr += d;
    });
    proc.on('close', (c) => {
      if (c !== 0) process.stderr.write(stderr);
      resolve(c);
    });
  });
  if (code !== 0) throw new Error(`bench: callgrind exited ${code}`);
  // Dumps are numbered cg.out.1, cg.out.2, …; each one's "summary:" or "totals:" is its Ir.
  const parts = readdirSync(dir)
    .filter((f) => /^cg\.out\.\d+$/.test(f))
    .sort((a, b) => Number(a.split('.').at(-1)) - Number(b.split('.').at(-1)))
    .map((f) => parseDump(readFileSync(join(dir, f), 'utf8')));
  // parts[0] is start-up, warm-up and the first settle; then each block (odd), the next
  // block's settle (even); the last part is the exit.
  const blocks = [];
  for (let i = 1; i < parts.length; i += 2) blocks.push(parts[i]);
  const rounds = { all: [], net: [] };
  const per = (b, key) => b[key] / Number(callsArg);
  for (const key of ['all', 'net'])
    for (let i = 0; i + 2 < blocks.length; i += 3)
      rounds[key].push({
        bare: per(blocks[i], key),
        tf: per(blocks[i + 1], key),
        bare2: per(blocks[i + 2], key),
      });
  console.log(
    `${sdk}: ${rounds.all.length} rounds of ${callsArg} calls a block, settle ${SETTLE}, warm-up ${warmArg} (callgrind Ir per call)`,
  );
  for (const [key, title] of [
    ['all', 'every instruction'],
    [
      'net',
      "without the JIT compiler's (a switch makes it recompile; its work lands in any block)",
    ],
  ]) {
    printRounds(`${title}:`, rounds[key], true);
  }
  // With the cache simulation: L1 misses (instruction and data) and last-level misses per call.
  if (blocks[0]?.byEvent.D1mr !== undefined) {
    const ev = (b, names) => names.reduce((n, e) => n + (b.byEvent[e] ?? 0), 0) / Number(callsArg);
    for (const [title, names] of [
      ['L1 misses (I1mr + D1mr + D1mw)', ['I1mr', 'D1mr', 'D1mw']],
      ['last-level misses (ILmr + DLmr + DLmw)', ['ILmr', 'DLmr', 'DLmw']],
      // The same split by what missed: code (the JIT's and the binary's) or data read/written.
      ['  of which code (ILmr)', ['ILmr']],
      ['  of which data read (DLmr)', ['DLmr']],
      ['  of which data written (DLmw)', ['DLmw']],
    ]) {
      const rs = [];
      for (let i = 0; i + 2 < blocks.length; i += 3)
        rs.push({
          bare: ev(blocks[i], names),
          tf: ev(blocks[i + 1], names),
          bare2: ev(blocks[i + 2], names),
        });
      printRounds(`${title}, per call:`, rs, false);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
function fmt(x) {
  return Math.round(x).toLocaleString('en-US').replace(/,/g, ' ');
}
function show(name, xs) {
  return `${name} ${fmt(median(xs))} [${fmt(Math.min(...xs))} .. ${fmt(Math.max(...xs))}]`;
}

/** Each round's three blocks, then what tokenfuse adds and the A-vs-A (and bare's own spread). */
function printRounds(title, rs, withBare) {
  console.log(title);
  for (const r of rs)
    console.log(`  bare ${fmt(r.bare)}  tokenfuse ${fmt(r.tf)}  bare ${fmt(r.bare2)}`);
  if (withBare)
    console.log(
      `  ${show(
        'bare',
        rs.map((r) => r.bare),
      )}`,
    );
  console.log(
    `  ${show(
      'tokenfuse adds',
      rs.map((r) => r.tf - r.bare),
    )}`,
  );
  console.log(
    `  ${show(
      'A-vs-A (bare after − bare before)',
      rs.map((r) => r.bare2 - r.bare),
    )}`,
  );
}
