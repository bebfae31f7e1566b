// Prompts and completions reach spans only when the user opts in (content.capture).
import { expect, it } from 'vitest';
import { useFakeServerHarness } from './helpers/fake-server-harness.js';

const { harness, client } = useFakeServerHarness();

const messages = [
  { role: 'system' as const, content: 'be brief' },
  { role: 'user' as const, content: 'the secret plan' },
];

it('records input and output messages on the span when content.capture is on', async () => {
  const h = await harness({ content: { capture: true } });
  const openai = client(h);
  await openai.chat.completions.create({ model: 'gpt-4.1', messages, max_tokens: 3 });
  const stream = await openai.chat.completions.create({
    model: 'gpt-4.1',
    messages,
    max_tokens: 2,
    stream: true,
  });
  for await (const _ of stream);
  const [plain, streamed] = h.spans();
  expect(JSON.parse(plain!.attributes['gen_ai.input.messages'] as string)).toEqual(messages);
  expect(JSON.parse(plain!.attributes['gen_ai.output.messages'] as string)).toEqual([
    { role: 'assistant', content: 'Hello from gpt-4.1' },
  ]);
  expect(JSON.parse(streamed!.attributes['gen_ai.output.messages'] as string)).toEqual([
    { role: 'assistant', content: 'Hello from' },
  ]);
});

it('records no content by default, and never the API key', async () => {
  const h = await harness({});
  const openai = client(h, { apiKey: 'sk-do-not-leak' });
  await openai.chat.completions.create({ model: 'gpt-4.1', messages, max_tokens: 3 });
  const [span] = h.spans();
  expect(span!.attributes['gen_ai.input.messages']).toBeUndefined();
  expect(span!.attributes['gen_ai.output.messages']).toBeUndefined();
  const all = JSON.stringify(span!.attributes);
  expect(all).not.toContain('secret plan');
  expect(all).not.toContain('Hello from');
  expect(all).not.toContain('sk-do-not-leak');
});
