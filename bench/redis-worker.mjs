// One process of the fleet bench/redis.mjs runs: tokenfuse with BENCH_REDIS_BUDGETS budgets
// in the Redis ledger at BENCH_REDIS_URL, 16 callers side by side through the real openai SDK
// (in-process fake fetch), counting completed calls for as many seconds as it is told.
import { performance } from 'node:perf_hooks';
import { call, tokenfuseArm } from './arms.mjs';
import { budgets, ledger } from './redis.mjs';

const CONCURRENCY = 16;
const arm = await tokenfuseArm({
  budgets: budgets(Number(process.env.BENCH_REDIS_BUDGETS ?? 1)),
  ledger: ledger(process.env.BENCH_REDIS_URL),
});
arm.set(true);
for (let i = 0; i < 500; i++) await call(arm.client); // warm-up, and the connection is up

process.on('message', async (m) => {
  if (m.type !== 'go') return;
  const end = performance.now() + m.seconds * 1000;
  let calls = 0;
  const caller = async () => {
    while (performance.now() < end) {
      await call(arm.client);
      calls++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, caller));
  process.send({ type: 'done', calls });
});
process.send({ type: 'ready' });
