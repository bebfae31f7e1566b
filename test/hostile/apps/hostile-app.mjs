// An app with hostile tag values and a secret API key, run with `--import tokenfuse/register`
// by test/hostile/holds.test.ts. Each value of HOSTILE_VALUES (JSON) tags one call through an
// X-Department header, one through withAttribution({ project }) and one through W3C baggage
// (environment); then a stream, a 401 and a 500. Prints one line when done, then waits.
import { context, propagation } from '@opentelemetry/api';
import OpenAI from 'openai';
import { withAttribution } from 'tokenfuse';

const values = JSON.parse(process.env.HOSTILE_VALUES);
const openai = new OpenAI({
  baseURL: process.env.LLM_BASE_URL,
  apiKey: process.env.HOSTILE_API_KEY,
  maxRetries: 0,
});
const ask = (extra = {}, options) =>
  openai.chat.completions.create(
    {
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: process.env.HOSTILE_PROMPT }],
      max_tokens: 2,
      ...extra,
    },
    options,
  );

for (const value of values) {
  await ask({}, { headers: { 'X-Department': value } });
  // withAttribution() rejects an empty value (an InvalidTagsError, tested in attribution.test.ts).
  if (value !== '') await withAttribution({ project: value }, () => ask());
  const baggage = propagation.createBaggage({ 'tokenfuse.environment': { value } });
  await context.with(propagation.setBaggage(context.active(), baggage), () => ask());
}
const stream = await ask({ stream: true });
for await (const _ of stream);
const failures = [];
for (const model of ['error-401', 'error-500'])
  await ask({ model }).catch((err) => failures.push(err.status));
console.log(JSON.stringify({ ready: true, failures }));
setInterval(() => {}, 1 << 30);
