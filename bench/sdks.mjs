// The `sdks` section: what tokenfuse adds to each SDK it instruments, with the method of the
// `sdk` section (bench/measure.mjs: seeded random block order, warm-up, A-vs-A control,
// medians with a 95% interval, per chunk as the marginal cost of 500- vs 50-chunk streams).
//
//   BENCH_SECTIONS=sdks npm run bench
//   BENCH_SECTIONS=sdks BENCH_SDKS=anthropic,bedrock BENCH_ROUNDS=60 npm run bench
//
// Per SDK, three arms on that SDK's own client (bench/sdk-clients.mjs): bare A, bare B (the
// A-vs-A control) and tokenfuse, the same loaded module patched and unpatched through
// tokenfuse's own module definition for it. The AI SDK is not patched but wrapped: its
// tokenfuse arm calls the model wrapped with `tokenfuseMiddleware()`, its bare arms the
// model itself. The span counter of bench/arms.mjs fails the run unless every tokenfuse
// block ended a span per call and every bare block none.
import { tokenfuseArm } from './arms.mjs';
import { aiSdk, SDK_FACTORIES } from './sdk-clients.mjs';

export const SDK_NAMES = [...Object.keys(SDK_FACTORIES), 'ai-sdk'];

/** Patches or unpatches one loaded SDK with tokenfuse's module definition for it. */
function toggler(definitions, sdk) {
  const defs = definitions.filter((d) => d.name === sdk.definition);
  if (defs.length === 0)
    throw new Error(`bench: tokenfuse has no module definition for ${sdk.definition}`);
  // Loaded after the instrumentation, the SDK is patched already (its require hook): start
  // from unpatched, or the bare arms' warm-up runs instrumented until the first switch.
  let on = true;
  const set = (want) => {
    if (want === on) return;
    for (const d of defs) (want ? d.patch : d.unpatch).call(d, sdk.module, sdk.version);
    on = want;
  };
  set(false);
  return set;
}

const noop = () => {};
/** One arm of measure() on an SDK's side (`sdkSides`): its own call and stream, its switch. */
export const arm = (name, side, set, spansPerCall) => ({
  name,
  call: side.call,
  stream: side.stream,
  set,
  spansPerCall,
});

/**
 * One SDK's two sides on one loaded client, by its BENCH_SDKS name: `bare` and `tokenfuse`,
 * each { call, stream(n, now), set(on) }. The tokenfuse side of a patched SDK is the same
 * client with `set(true)` patching it through tokenfuse's module definition (both sides start
 * unpatched); the AI SDK's is the model wrapped with `tokenfuseMiddleware()`, its `set` a no-op.
 * Also what bench/instructions-loop.mjs counts for INSTR_SDKS.
 * @param {string} name
 * @param {any} tf a tokenfuse instance (bench/arms.mjs tokenfuseArm: its span counter included)
 * @param {any[]} definitions tf.instrumentation.getModuleDefinitions()
 */
export async function sdkSides(name, tf, definitions) {
  if (name === 'ai-sdk') {
    const s = await aiSdk(tf);
    return {
      label: s.label,
      bare: { ...s.bare, set: noop },
      tokenfuse: { ...s.instrumented, set: noop },
    };
  }
  const factory = SDK_FACTORIES[name];
  if (!factory) throw new Error(`bench: unknown SDK ${name} (${SDK_NAMES})`);
  const sdk = await factory();
  const side = (set) => ({ call: sdk.call, stream: sdk.stream, set });
  return { label: sdk.label, bare: side(noop), tokenfuse: side(toggler(definitions, sdk)) };
}

/**
 * Runs the section; returns its rows (bench/stats.mjs).
 * @param {{ env: any, log: (line: string) => void, measure: Function, target: { call: number, chunk: number }, clockName: string }} ctx
 */
export async function sdksSection({ env, log, measure, target, clockName }) {
  const names = process.env.BENCH_SDKS?.split(',').map((s) => s.trim()) ?? SDK_NAMES;
  // One tokenfuse, on the bench's providers (its span counter included).
  const { tf } = await tokenfuseArm({}, 'tokenfuse');
  const definitions = tf.instrumentation.getModuleDefinitions();
  const rows = [];
  for (const name of names) {
    const { label, bare, tokenfuse } = await sdkSides(name, tf, definitions);
    const arms = [
      arm(`bare ${name} (A)`, bare, noop, 0),
      arm(`bare ${name} (B)`, bare, noop, 0),
      arm(`tokenfuse on ${name}`, tokenfuse, tokenfuse.set, 1),
    ];
    log(`sdks: ${label}; ${env.rounds} rounds`);
    const f = await measure({ ...env, arms, log });
    const spec = {
      call: [`added per call, µs ${clockName}`, target.call],
      // The call blocks again on the wall clock: CPU added but not wall time added ran on
      // another thread (the collector's helpers, background compiles).
      ...(clockName === 'CPU'
        ? { wall: ['added per call, µs wall (same blocks)', undefined] }
        : {}),
      chunk: [`added per chunk (${env.long} − ${env.short}), µs ${clockName}`, target.chunk],
    };
    for (const [kind, [figure, goal]] of Object.entries(spec)) {
      const x = f[kind];
      if (!x) continue;
      rows.push({
        figure,
        subject: `tokenfuse on ${label}`,
        value: x.added[0].added,
        control: x.control,
        target: goal,
        note: `bare ${x.bare.median.toFixed(kind === 'chunk' ? 2 : 1)} µs`,
      });
    }
  }
  return rows;
}
