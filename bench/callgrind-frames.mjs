// Where an arm's instructions per call go, by function: callgrind's own counts name only the
// node binary's functions (V8's runtime, builtins, the collector), and count the JIT's code as
// bare addresses. Here the counted child also writes V8's perf map (--perf-basic-prof: each
// compiled function's address range and name, with its tier: `+` Maglev, `*` TurboFan, `^`
// Sparkplug, `~` interpreted), and every address is named from it. Two runs that differ only
// in their calls (as bench/instructions.mjs counts them): per call = (Y − X) / N, by function
// (self), by group, and, for the functions a pattern matches, by callee (what each costs
// with all it calls: a builtin or a runtime function is named where it is called from).
//
//   cd bench && node callgrind-frames.mjs tokenfuse [calls] [pattern]
//   node callgrind-frames.mjs tokenfuse 200 "'start |'finishStart "
//
// <arm>: as instructions-loop.mjs takes it (bare, a name of BENCH_ARMS, <sdk>:<side>).
// JIT work that falls between X and Y (a function optimised there, by the main thread: the
// child runs --single-threaded) lands in the figures, as in instructions.mjs: read the
// compiler's group, and compare two runs before trusting a small difference. Each run takes
// minutes under callgrind.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FLAGS } from './instructions.mjs';

const [arm = 'tokenfuse', callsArg = '200', pattern] = process.argv.slice(2);
const N = Number(callsArg);
const WARMUP = Number(process.env.INSTR_WARMUP ?? 1000);
const LOOP = fileURLToPath(new URL('instructions-loop.mjs', import.meta.url));

/** Runs the loop with `calls` calls under callgrind; resolves to its output file and perf map. */
function run(dir, calls) {
  const out = join(dir, `${calls}.callgrind`);
  const proc = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      `--callgrind-out-file=${out}`,
      process.execPath,
      '--perf-basic-prof',
      // The perf map implies V8's log: into the run's own directory, not the working one.
      '--no-logfile-per-isolate',
      `--logfile=${join(dir, `${calls}.v8.log`)}`,
      ...FLAGS,
      LOOP,
      arm,
      String(WARMUP),
      String(calls),
      '0',
      '50',
    ],
    { env: { ...process.env, UV_THREADPOOL_SIZE: '1' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  proc.stderr.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    proc.on('close', (code) => {
      // valgrind runs the program in its own process: the map is named by that pid.
      if (code === 0) resolve({ out, map: `/tmp/perf-${proc.pid}.map` });
      else reject(new Error(`bench: ${arm} ${calls} under callgrind exited ${code}\n${stderr}`));
    });
  });
}

/** Names an address from the perf map's ranges (sorted), or undefined. */
function namer(mapFile) {
  const ranges = readFileSync(mapFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(l))
    .filter(Boolean)
    .map((m) => [Number.parseInt(m[1], 16), Number.parseInt(m[2], 16), m[3]])
    .sort((a, b) => a[0] - b[0]);
  return (addr) => {
    let lo = 0;
    let hi = ranges.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (ranges[mid][0] <= addr) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best >= 0 && addr < ranges[best][0] + ranges[best][1] ? ranges[best][2] : undefined;
  };
}

/**
 * Self cost per function and inclusive cost per caller → callee edge, from a callgrind file
 * (its compressed names resolved, bare addresses named from the perf map).
 */
function parse({ out, map }) {
  const name = namer(map);
  const ids = new Map();
  const label = (s) => {
    const m = /^\((\d+)\)(?: (.*))?$/.exec(s);
    let fn = s;
    if (m) {
      if (m[2] !== undefined) ids.set(m[1], m[2]);
      fn = ids.get(m[1]);
    }
    const addr = /^0x([0-9a-f]+)/.exec(fn);
    return (addr && name(Number.parseInt(addr[1], 16))) ?? fn;
  };
  const self = new Map();
  const edges = new Map();
  let fn;
  let callee;
  let inCall = false;
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    if (line.startsWith('fn=')) fn = label(line.slice(3));
    else if (line.startsWith('cfn=')) callee = label(line.slice(4));
    else if (line.startsWith('calls=')) inCall = true;
    else if (/^[+\-*]?\d/.test(line)) {
      const ir = Number(line.trim().split(/\s+/).at(-1));
      if (Number.isNaN(ir) || fn === undefined) continue;
      if (inCall) {
        const key = `${fn}\n${callee}`;
        edges.set(key, (edges.get(key) ?? 0) + ir);
        inCall = false;
      } else self.set(fn, (self.get(fn) ?? 0) + ir);
    }
  }
  return { self, edges };
}

const perCall = (x, y) => {
  const d = new Map();
  for (const k of new Set([...x.keys(), ...y.keys()]))
    d.set(k, ((y.get(k) ?? 0) - (x.get(k) ?? 0)) / N);
  return d;
};
const short = (s) => s.replace(/file:\/\/\S*\/(node_modules|dist)\//g, '').slice(0, 150);
const group = (fn) =>
  /\/dist\//.test(fn) && !/node_modules/.test(fn)
    ? 'tokenfuse (JS)'
    : /opentelemetry/.test(fn)
      ? 'OpenTelemetry (JS)'
      : /^JS:/.test(fn)
        ? 'other JS (SDK, undici, node)'
        : /^Builtins_/.test(fn)
          ? 'builtins'
          : /Scaveng|MarkCompact|heap::|Heap::|Sweep/.test(fn)
            ? 'collector'
            : /compiler|turboshaft|maglev/i.test(fn)
              ? 'JIT compiler'
              : 'other native';

const dir = mkdtempSync(join(os.tmpdir(), 'tf-frames-'));
try {
  const [x, y] = await Promise.all([run(dir, N), run(dir, 2 * N)]);
  const [px, py] = [parse(x), parse(y)];
  for (const r of [x, y]) rmSync(r.map, { force: true });
  const self = perCall(px.self, py.self);
  let total = 0;
  const groups = new Map();
  for (const [fn, ir] of self) {
    total += ir;
    groups.set(group(fn), (groups.get(group(fn)) ?? 0) + ir);
  }
  console.log(`${arm}: ${total.toFixed(0)} Ir per call (${N} calls more, warm-up ${WARMUP})`);
  for (const [g, ir] of [...groups].sort((a, b) => b[1] - a[1]))
    console.log(`  ${ir.toFixed(0).padStart(8)}  ${g}`);
  console.log('self, per call:');
  for (const [fn, ir] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40))
    console.log(`  ${ir.toFixed(0).padStart(8)}  ${short(fn)}`);
  if (pattern) {
    const re = new RegExp(pattern);
    console.log(`callees of /${pattern}/, per call (with all they call):`);
    const edges = perCall(px.edges, py.edges);
    for (const [k, ir] of [...edges].sort((a, b) => b[1] - a[1])) {
      const [caller, to] = k.split('\n');
      if (re.test(caller) && Math.abs(ir) >= 20)
        console.log(`  ${ir.toFixed(0).padStart(8)}  ${short(caller)}  ->  ${short(to)}`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
