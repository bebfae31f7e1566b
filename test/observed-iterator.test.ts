/**
 * The stream iterator an instrumented call hands on: since `@google/genai`'s streams get
 * it with nothing in front of it, it must itself be what an SDK's async generator is to
 * its caller: its own async iterator, disposable with `await using`, and each step, end,
 * abandonment and failure told to the call.
 */
import { describe, expect, it } from 'vitest';
import { ObservedIterator, type StreamCall } from '../src/instrumentation/observed-iterator.js';

function recorder(): StreamCall & { events: string[] } {
  const events: string[] = [];
  return {
    events,
    onStreamItem(item) {
      events.push(`item ${String(item)}`);
      return false;
    },
    cutOffError: () => undefined,
    onStreamEnd(abandoned) {
      events.push(abandoned ? 'abandoned' : 'end');
    },
    fail(err) {
      events.push(`fail ${(err as Error).message}`);
    },
  };
}

/** An SDK stream of `items` that records whether its `finally` ran (the response closed). */
function source(items: string[], closed: { value: boolean }) {
  return (async function* () {
    try {
      yield* items;
    } finally {
      closed.value = true;
    }
  })();
}

describe('ObservedIterator', () => {
  it('is its own async iterator and tells the call each chunk and the end', async () => {
    const call = recorder();
    const closed = { value: false };
    const it = new ObservedIterator(source(['a', 'b'], closed), call);
    expect(it[Symbol.asyncIterator]()).toBe(it);
    const seen: unknown[] = [];
    for await (const chunk of it) seen.push(chunk);
    expect(seen).toEqual(['a', 'b']);
    expect(call.events).toEqual(['item a', 'item b', 'end']);
    expect(closed.value).toBe(true);
  });

  it('`await using` ends the call as abandoned and closes the SDK stream', async () => {
    const call = recorder();
    const closed = { value: false };
    const it = new ObservedIterator(source(['a', 'b', 'c'], closed), call);
    const dispose = (it as unknown as { [Symbol.asyncDispose]?: () => Promise<void> })[
      Symbol.asyncDispose
    ];
    expect(typeof dispose).toBe('function');
    expect(await it.next()).toEqual({ done: false, value: 'a' });
    await dispose!.call(it);
    expect(call.events).toEqual(['item a', 'abandoned']);
    expect(closed.value).toBe(true);
  });

  it('an error from the SDK stream fails the call and reaches the caller', async () => {
    const call = recorder();
    const inner = (async function* () {
      yield 'a';
      throw new Error('connection reset');
    })();
    const it = new ObservedIterator(inner, call);
    await it.next();
    await expect(it.next()).rejects.toThrow('connection reset');
    expect(call.events).toEqual(['item a', 'fail connection reset']);
  });
});
