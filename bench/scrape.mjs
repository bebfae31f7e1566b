// Cost of one scrape of tokenfuse's `/metrics`, beside prom-client serializing the same series.
//
//   npm run build && npx node bench/scrape.mjs            # 1k, 10k and 50k label sets
//   SCRAPE_SETS=50000 npx node bench/scrape.mjs           # others (comma-separated)
//   SCRAPE_DIST=path/to/index.js npx node bench/scrape.mjs  # another build (before/after)
//   SCRAPE_WITHOUT_SCOPE_INFO=1 npx node bench/scrape.mjs   # metrics.withoutScopeInfo: true
//
// For each size N, one process runs `start()` (the endpoint `tokenfuse/register` serves) and
// makes N calls through the real `openai` SDK (an in-process fake `fetch`), one per label set
// (department × project). The scraper is another process, as Prometheus is: `curl` GETs
// /metrics SCRAPE_ROUNDS times, discarding the body, and reports its time to the last byte;
// the tokenfuse process holds only its own state (curl is started by a process of its own),
// and measures the longest event-loop stall (monitorEventLoopDelay) during each scrape. prom-client gets the same families, label sets
// and bucket boundaries, fed the same values, in a process of its own, and is timed there on
// `registry.metrics()` (its serializer alone: no HTTP, no receiving), so the ratio flatters
// prom-client. The rounds alternate between the processes, so both see the same machine.
// Each size runs in processes of its own, so one size's heap does not slow the next.
import { execFile, execFileSync, fork } from 'node:child_process';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver, performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const ROUNDS = Number(process.env.SCRAPE_ROUNDS ?? 9);

if (process.env.SCRAPE_SCRAPER !== undefined) {
  // Starts curl when the tokenfuse process asks: forking a process of 500 MB (50,000 label
  // sets) from the tokenfuse process itself held its event loop longer than the scrape did.
  process.on('message', async (port) => {
    try {
      process.send(await curl(port));
    } catch (err) {
      process.send({ error: err.message });
    }
  });
  process.on('disconnect', () => process.exit(0));
  await new Promise(() => {});
} else if (process.env.SCRAPE_PROM !== undefined) {
  await promClientChild(Number(process.env.SCRAPE_PROM));
  // Serves the tokenfuse process's requests until it hangs up (it exits then).
  await new Promise(() => {});
} else if (process.env.SCRAPE_CHILD === undefined) {
  const sizes = (process.env.SCRAPE_SETS ?? '1000,10000,50000').split(',').map(Number);
  const rows = [];
  const loadBefore = loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
  for (const n of sizes) {
    const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url)], {
      env: { ...process.env, SCRAPE_CHILD: String(n) },
      encoding: 'utf8',
      maxBuffer: 1 << 26,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    rows.push(JSON.parse(out.trim().split('\n').at(-1)));
    // Each size as it is done: a long run shows what it has so far.
    console.error(out.trim().split('\n').at(-1));
  }
  console.log(
    `node ${process.version}, ${ROUNDS} rounds per size, median [p90]; ms; tokenfuse is curl's time to the last byte; ` +
      `${process.env.SCRAPE_WITHOUT_SCOPE_INFO === '1' ? 'metrics.withoutScopeInfo: true; ' : ''}load average ${loadBefore} before, ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')} after`,
  );
  console.log(
    '| label sets | lines | MB | tokenfuse [p90] | first byte | first scrape | CPU per scrape (first) | prom-client A | prom-client B (A-vs-A) | ratio | longest stall (median) | longest GC pause (median) | idle stall, A-vs-A (median) | RSS / heap MB | served sum |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  const f = (x) => x.toFixed(0);
  for (const r of rows) {
    const prom = (x) => (r.promError ? 'fails' : f(x));
    console.log(
      `| ${r.sets} | ${r.lines} | ${(r.bytes / 1e6).toFixed(1)} | ${f(r.tokenfuse.median)} [${f(r.tokenfuse.p90)}] | ${f(r.firstByte.median)} | ` +
        `${f(r.firstScrape)} | ${f(r.cpu.median)} (${f(r.firstCpu)}) | ` +
        `${prom(r.promClient.median)} | ${prom(r.promClientB.median)} | ` +
        `${r.promError ? '-' : `${(r.tokenfuse.median / r.promClient.median).toFixed(2)}×`} | ` +
        `${f(r.stall)} (${f(r.stallMedian)}) | ${f(r.gc)} (${f(r.gcMedian)}) | ${f(r.idleStall)} (${f(r.idleStallMedian)}) | ` +
        `${f(r.rssMB)} / ${f(r.heapMB)} | ${r.requestsSum} |`,
    );
  }
  for (const r of rows) if (r.promError) console.log(`prom-client at ${r.sets}: ${r.promError}`);
  process.exit(0);
}

// ---- child: one size --------------------------------------------------------
const SETS = Number(process.env.SCRAPE_CHILD);
const { start } = await import(
  process.env.SCRAPE_DIST
    ? pathToFileURL(resolve(process.env.SCRAPE_DIST)).href
    : '../dist/index.js'
);
const port = await freePort();
const side = Math.ceil(Math.sqrt(SETS));
const runtime = start({
  config: {
    serviceName: 'scrape-bench',
    metrics: {
      port,
      maxSeries: SETS + 10,
      maxValuesPerLabel: side + 10,
      ...(process.env.SCRAPE_WITHOUT_SCOPE_INFO === '1' ? { withoutScopeInfo: true } : {}),
    },
  },
});
// prom-client in a process of its own (its heap is not ours), asked for one serialization at
// a time over IPC; it builds its series while we made our calls.
const prom = fork(fileURLToPath(import.meta.url), [], {
  env: { ...process.env, SCRAPE_PROM: String(SETS) },
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const promReady = new Promise((resolve) => prom.once('message', resolve));
// The scraper's own process starts curl, as Prometheus is started by nobody in the app.
const scraper = fork(fileURLToPath(import.meta.url), [], {
  env: { ...process.env, SCRAPE_SCRAPER: '1' },
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const scrape = () =>
  new Promise((resolve, reject) => {
    scraper.once('message', (answer) =>
      answer.error ? reject(new Error(answer.error)) : resolve(answer),
    );
    scraper.send(port);
  });
const promTime = () =>
  new Promise((resolve) => {
    prom.once('message', resolve);
    prom.send('serialize');
  });
const openai = require('openai');
const usage = { prompt_tokens: 20, completion_tokens: 2, total_tokens: 22 };
const body = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1,
  model: 'gpt-4.1-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
  usage,
});
const client = new openai.OpenAI({
  apiKey: 'sk-bench',
  baseURL: 'http://bench.invalid/v1',
  fetch: async () => new Response(body, { headers: { 'content-type': 'application/json' } }),
  maxRetries: 0,
});
const pairs = labelPairs(SETS);
for (const [department, project] of pairs) {
  await client.chat.completions.create(
    { model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }] },
    { headers: { 'X-Department': department, 'X-Project': project } },
  );
}

await promReady;

const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();
// The longest garbage-collection pause of each scrape: of a stall, what the process did
// itself (the rest is the machine giving the CPU to others).
let gcMax = 0;
const gcs = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMax = Math.max(gcMax, entry.duration);
}).observe({ entryTypes: ['gc'] });
const ours = [];
// curl's time to the first byte of the body: the collection before anything is written.
const firstBytes = [];
const cpu = [];
const theirs = [];
const theirsB = [];
const stalls = [];
const idleStalls = [];
let promError;
// Alternating rounds: tokenfuse's scrape, prom-client twice (A and B, the A-vs-A control of
// the timing), then an idle window as long as the scrape (the A-vs-A control of the stall:
// what the busy machine alone makes of an event loop doing nothing).
for (let r = 0; r < ROUNDS; r++) {
  loop.reset();
  gcMax = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const { took: scraped, first } = await scrape();
  const took = performance.now() - t0;
  const used = process.cpuUsage(c0);
  ours.push(scraped);
  firstBytes.push(first);
  // CPU of this process during the scrape (user + system): less at the mercy of the load.
  cpu.push((used.user + used.system) / 1000);
  stalls.push(loop.max / 1e6);
  // GC entries arrive after the pause: one more turn for the last.
  await new Promise((resolve) => setImmediate(resolve));
  gcs.push(gcMax);
  for (const into of r % 2 === 0 ? [theirs, theirsB] : [theirsB, theirs]) {
    const answer = await promTime();
    if (typeof answer === 'number') into.push(answer);
    else promError = answer.error;
  }
  loop.reset();
  await new Promise((resolve) => setTimeout(resolve, took));
  idleStalls.push(loop.max / 1e6);
}
// The first scrape also builds what later ones reuse: the stall that counts is the worst.
const stall = Math.max(...stalls);
loop.disable();
const memory = process.memoryUsage();
// Read line by line: at 50,000 label sets the text (770 MB) is longer than a string can be.
const { lines, bytes, requestsSum } = await countLines(`http://127.0.0.1:${port}/metrics`);
await runtime.shutdown();
prom.kill();
scraper.kill();
console.log(
  JSON.stringify({
    sets: SETS,
    lines,
    bytes,
    tokenfuse: stats(ours),
    firstScrape: ours[0],
    firstByte: stats(firstBytes.slice(1)),
    cpu: stats(cpu.slice(1)),
    firstCpu: cpu[0],
    rssMB: memory.rss / 1e6,
    heapMB: memory.heapUsed / 1e6,
    promClient: stats(theirs),
    promClientB: stats(theirsB),
    promError,
    stall,
    stallMedian: stats(stalls).median,
    gc: Math.max(...gcs),
    gcMedian: stats(gcs).median,
    idleStall: Math.max(...idleStalls),
    idleStallMedian: stats(idleStalls).median,
    requestsSum,
  }),
);

function stats(xs) {
  if (xs.length === 0) return { median: Number.NaN, p90: Number.NaN };
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], p90: s[Math.floor(s.length * 0.9)] };
}

function countLines(url) {
  return new Promise((resolve, reject) => {
    request(url, { agent: false }, (res) => {
      let lines = 1;
      let bytes = 0;
      let requestsSum = 0;
      let rest = '';
      res.on('data', (c) => {
        bytes += c.length;
        // latin1: one character a byte; the lines looked at are ASCII up to their value.
        const parts = (rest + c.toString('latin1')).split('\n');
        rest = parts.pop();
        lines += parts.length;
        for (const line of parts)
          if (line.startsWith('tokenfuse_requests_total{'))
            requestsSum += Number(line.slice(line.lastIndexOf(' ') + 1));
      });
      res.on('end', () => resolve({ lines, bytes, requestsSum }));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function labelPairs(n) {
  const side = Math.ceil(Math.sqrt(n));
  const pairs = [];
  for (let i = 0; i < n; i++) pairs.push([`dept-${i % side}`, `proj-${Math.floor(i / side)}`]);
  return pairs;
}

// A scraper in another process: time to the last byte as curl measures it, body discarded.
function curl(port) {
  return new Promise((resolve, reject) => {
    execFile(
      'curl',
      [
        '-sS',
        '-o',
        '/dev/null',
        '-w',
        '%{time_total} %{size_download} %{time_starttransfer}',
        `http://127.0.0.1:${port}/metrics`,
      ],
      (err, out) => {
        if (err?.code === 'ENOENT')
          return reject(
            new Error(
              'bench/scrape.mjs scrapes with curl, which is not on PATH: apt-get install curl',
            ),
          );
        if (err) return reject(err);
        const [seconds, bytes, first] = out.trim().split(' ').map(Number);
        resolve({ took: seconds * 1000, bytes, first: first * 1000 });
      },
    );
  });
}

// ---- prom-client's process: the same series, timed on its serializer ------------------
async function promClientChild(sets) {
  // prom-client holding the same series: the families and label sets tokenfuse exports.
  const prom = require('prom-client');
  const pairs = labelPairs(sets);
  const registry = new prom.Registry();
  const base = ['department', 'project', 'environment', 'provider', 'model'];
  const semconv = [
    'gen_ai_operation_name',
    'gen_ai_provider_name',
    'gen_ai_request_model',
    'department',
    'project',
    'environment',
  ];
  const tokens = new prom.Counter({
    name: 'tokenfuse_tokens_total',
    help: 'h',
    labelNames: [...base, 'type'],
    registers: [registry],
  });
  const cost = new prom.Counter({
    name: 'tokenfuse_cost_usd_total',
    help: 'h',
    labelNames: base,
    registers: [registry],
  });
  const requests = new prom.Counter({
    name: 'tokenfuse_requests_total',
    help: 'h',
    labelNames: [...base, 'outcome'],
    registers: [registry],
  });
  const tokenUsage = new prom.Histogram({
    name: 'gen_ai_client_token_usage',
    help: 'h',
    labelNames: [...semconv, 'gen_ai_token_type'],
    buckets: [
      1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
    ],
    registers: [registry],
  });
  const duration = new prom.Histogram({
    name: 'gen_ai_client_operation_duration',
    help: 'h',
    labelNames: semconv,
    buckets: [
      0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
    ],
    registers: [registry],
  });
  for (const [department, project] of pairs) {
    const l = {
      department,
      project,
      environment: 'unknown',
      provider: 'openai',
      model: 'gpt-4.1-mini',
    };
    tokens.inc({ ...l, type: 'input' }, 20);
    tokens.inc({ ...l, type: 'output' }, 2);
    cost.inc(l, 0.0000112);
    requests.inc({ ...l, outcome: 'ok' });
    const s = {
      gen_ai_operation_name: 'chat',
      gen_ai_provider_name: 'openai',
      gen_ai_request_model: 'gpt-4.1-mini',
      department,
      project,
      environment: 'unknown',
    };
    tokenUsage.observe({ ...s, gen_ai_token_type: 'input' }, 20);
    tokenUsage.observe({ ...s, gen_ai_token_type: 'output' }, 2);
    duration.observe(s, 0.001);
  }
  process.on('message', async () => {
    const t = performance.now();
    try {
      await registry.metrics();
      process.send(performance.now() - t);
    } catch (err) {
      // At 50,000 label sets prom-client's text is longer than a V8 string can be.
      process.send({ error: `${err.name}: ${err.message}` });
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send('ready');
}
