// When tokenfuse's functions reach V8's optimising tier: a child runs one arm's calls under
// --trace-opt --trace-deopt and prints, for every function of tokenfuse's dist, the call
// after which each of its Maglev and TurboFan compiles finished, and its deopts. A count or a
// profile taken before the last TurboFan compile measures code the timed bench does not run.
//
//   npm run build && cd bench && node tiers.mjs [calls] [arm]
//
// [calls] 60000; [arm] as instructions-loop.mjs takes it (tokenfuse, floor, <sdk>:tokenfuse).
// The child runs with instructions.mjs's FLAGS (one thread, predictable GC), so what it
// prints is when the counted children of instructions.mjs and callgrind-frames.mjs tier up;
// a bench process (background compile threads) tiers up at about the same calls.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FLAGS } from './instructions.mjs';

const [callsArg = '60000', arm = 'tokenfuse'] = process.argv.slice(2);
const calls = Number(callsArg);
const EVERY = 1000;
const LOOP = fileURLToPath(new URL('instructions-loop.mjs', import.meta.url));
const DIST = fileURLToPath(new URL('../dist/', import.meta.url));

/** The names of tokenfuse's own functions and methods, read from its dist. */
function ourNames() {
  const names = new Set();
  for (const file of readdirSync(DIST).filter((f) => f.endsWith('.js'))) {
    const src = readFileSync(join(DIST, file), 'utf8');
    const defs =
      /(?:function\s+|^\s+(?:static\s+)?(?:async\s+)?(?:get\s+|set\s+)?)([A-Za-z_$][\w$]*)\s*\(/gm;
    for (const m of src.matchAll(defs)) names.add(m[1]);
  }
  for (const word of ['if', 'for', 'while', 'switch', 'catch', 'return', 'function'])
    names.delete(word);
  return names;
}

const child = spawn(
  process.execPath,
  [...FLAGS, '--trace-opt', '--trace-deopt', LOOP, arm, String(calls), '0', '0', '0'],
  { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TIERS_EVERY: String(EVERY) } },
);
let text = '';
child.stdout.setEncoding('utf8');
child.stdout.on('data', (d) => {
  text += d;
});
const code = await new Promise((resolve) => child.on('exit', resolve));
if (code !== 0) throw new Error(`bench: instructions-loop.mjs exited ${code}`);

// V8's trace names a function but not its script: tokenfuse's are told by name (a name the
// SDK or OpenTelemetry also uses, such as \`record\`, shows both: read the list with that in mind).
const ours = ourNames();
let done = 0;
/** name → [{ at, what }] */
const events = new Map();
const note = (name, what) => {
  if (!ours.has(name)) return;
  const list = events.get(name) ?? [];
  list.push({ at: done, what });
  events.set(name, list);
};
for (const line of text.split('\n')) {
  if (line.startsWith('DONE ')) done = Number(line.slice(5));
  else {
    const opt =
      /^\[completed compiling 0x[0-9a-f]+ <JSFunction (\S+) .*\(target (MAGLEV|TURBOFAN_JS)\)/.exec(
        line,
      );
    if (opt) note(opt[1], opt[2] === 'MAGLEV' ? 'maglev' : 'turbofan');
    const deopt =
      /^\[bailout \(kind: ([^,]+), reason: ([^)]*)\): begin\. deoptimizing 0x[0-9a-f]+ <JSFunction (\S+) /.exec(
        line,
      );
    if (deopt) note(deopt[3], `deopt (${deopt[2]})`);
    // Optimised code thrown away without running into a check: a map it relied on changed
    // or died (\`embedded weak objects cleared\` at a full collection).
    const dropped =
      /^\[marking dependent code 0x[0-9a-f]+ <Code (\w+)> \(0x[0-9a-f]+ <SharedFunctionInfo ([^>]+)>\).*reason: (.*)\]$/.exec(
        line,
      );
    if (dropped) note(dropped[2], `${dropped[1].toLowerCase()} code dropped (${dropped[3]})`);
  }
}
console.log(
  `${arm}: ${calls} calls; "after N" = compiled or deoptimised within the ${EVERY} calls after call N`,
);
const rows = [...events].sort(
  (a, b) => Math.max(...b[1].map((e) => e.at)) - Math.max(...a[1].map((e) => e.at)),
);
for (const [name, list] of rows) {
  console.log(`  ${name}: ${list.map((e) => `${e.what} after ${e.at}`).join(', ')}`);
}
