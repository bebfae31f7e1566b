import { createTokenfuse } from '../dist/index.js';

const budgets = [];
for (let i = 0; i < 100; i++)
  budgets.push({
    name: `b${i}`,
    match: i % 2 === 0 ? { department: 'search' } : { model: 'gpt-4.1*' },
    window: i % 3 === 0 ? 'hour' : i % 3 === 1 ? 'day' : { rolling: '10m' },
    limit: { tokens: 1e15, usd: 1e12 },
  });
const b = createTokenfuse({ metrics: { exporter: 'none' }, budgets }).fuses;
const call = {
  tags: { department: 'search', project: 'rag', environment: 'prod' },
  provider: 'openai',
  model: 'gpt-4.1-mini',
  inputUpperBound: 60,
  exactInput: () => 20,
  inputUnseen: false,
  maxOutput: { kind: 'set', tokens: 16 },
};
const usage = { tokens: 30, usd: 0.00002, outputTokens: 10 };
const t0 = performance.now();
for (let i = 0; i < 20000; i++) {
  const r = b.admit(call);
  b.settle(r.admitted, usage);
}
console.log('µs/call', (((performance.now() - t0) * 1000) / 20000).toFixed(1));
