// CPU per call of recording a priced call's metrics: `accountant.account()` (price and
// record) minus `accountant.price()` alone, over 50 label sets in the steady state.
//
//   npm run build && npx node bench/record.mjs
//   BENCH_DIST=/path/to/other/dist npx node bench/record.mjs   # another build, for before/after
//
// Five alternating rounds of 100,000 calls each; prints the median and every round, so two
// runs of the same build (the A-vs-A control) show the spread.
import { pathToFileURL } from 'node:url';

const dist = process.env.BENCH_DIST
  ? pathToFileURL(`${process.env.BENCH_DIST}/index.js`).href
  : new URL('../dist/index.js', import.meta.url).href;
const { start } = await import(dist);
const runtime = start({ config: { serviceName: 'record-bench', metrics: { exporter: 'none' } } });
const accountant = runtime.accountant;
const records = Array.from({ length: 50 }, (_, i) => ({
  operation: 'chat',
  provider: 'openai',
  providerName: 'openai',
  model: 'gpt-4.1-mini',
  tags: { department: `d${i}` },
  usage: { input: 20, cacheRead: 0, cacheWrite: 0, output: 2 },
  estimated: false,
  outcome: 'ok',
  durationS: 0.05,
}));
const account = (n) => {
  for (let i = 0; i < n; i++) accountant.account(records[i % 50]);
};
const price = (n) => {
  for (let i = 0; i < n; i++) accountant.price(records[i % 50]);
};
const cpu = (fn) => {
  const c0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(c0);
  return c.user + c.system;
};
account(50_000);
price(50_000);
const rounds = [];
for (let r = 0; r < 5; r++) {
  const a = cpu(() => account(100_000));
  const p = cpu(() => price(100_000));
  rounds.push((a - p) / 100_000);
}
const sorted = [...rounds].sort((x, y) => x - y);
console.log(
  `record per call, µs CPU: median ${sorted[2].toFixed(3)} (rounds ${rounds.map((x) => x.toFixed(2)).join(', ')})`,
);
await runtime.shutdown();
