// How long a process takes to settle: what tokenfuse adds per call over the bare SDK, in
// consecutive batches of rounds (bench/measure.mjs's method, no warm-up beyond the first
// batch's), with the process's age beside each. The bench's BENCH_WARMUP_SECONDS comes from
// what this shows (docs/performance.md, _Warm-up_).
//
//   cd bench && node --expose-gc warmup-drift.mjs openai 12 30
//   node --expose-gc warmup-drift.mjs openai,anthropic 8 30     (one SDK after the other)
//   DRIFT_STREAMS=2 node --expose-gc warmup-drift.mjs anthropic  (stream blocks in every round)
//
// Names: those of BENCH_SDKS (bench/sdks.mjs).
import { tokenfuseArm } from './arms.mjs';
import { measure } from './measure.mjs';
import { arm, sdkSides } from './sdks.mjs';

const [names = 'openai', batches = '10', rounds = '30'] = process.argv.slice(2);
const { tf } = await tokenfuseArm({}, 'tokenfuse');
const definitions = tf.instrumentation.getModuleDefinitions();
const noop = () => {};
const age = () => `${process.uptime().toFixed(1).padStart(5)} s`;
for (const name of names.split(',')) {
  const { label, bare, tokenfuse } = await sdkSides(name, tf, definitions);
  const arms = [
    arm('A', bare, noop, 0),
    arm('B', bare, noop, 0),
    arm('tokenfuse', tokenfuse, tokenfuse.set, 1),
  ];
  for (let i = 0; i < Number(batches); i++) {
    const f = await measure({
      arms,
      rounds: Number(rounds),
      calls: 200,
      streams: Number(process.env.DRIFT_STREAMS ?? 0),
      long: 500,
      short: 50,
      warmup: i === 0 ? 2000 : 0,
      settle: 20,
      clock: 'cpu',
      seed: i + 1,
      log: noop,
    });
    const { bare: b, control, added } = f.call;
    console.log(
      `${age()}  ${label}: bare ${b.median.toFixed(1)} µs, tokenfuse +${added[0].added.median.toFixed(1)}, ` +
        `A-vs-A ${control.median.toFixed(2)}`,
    );
  }
}
process.exit(0);
