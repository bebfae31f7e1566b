// Ways to observe an AI SDK model stream, side by side in one process: what each adds per
// part on top of the chain `streamText` builds around a model's stream (ai 5 and 6 both
// consume it with `stream.pipeThrough(new TransformStream(…))`, in `runToolsTransformation`
// and `streamObject`). Standalone: no SDK, no tokenfuse; each arm's observer is the same
// function (a type switch like the middleware's), so the arms differ only in how the parts
// reach it.
//
//   cd bench && node --expose-gc ai-sdk-stream-layers.mjs [rounds=40] [parts=500]
//
// Arms (each a fresh stream of `parts` parts per sample, CPU time per part, interleaved in
// a seeded random order per round; A and B are the same bare arm, the A-vs-A control):
//   bare A / bare B  the provider-like stream piped as streamText pipes it
//   identity hop     model.pipeThrough(new TransformStream()): one more stream, no code of
//                    ours in it (the least any layer costs)
//   pull source      a new ReadableStream pulling from the model stream's reader (the
//                    middleware's way: src/instrumentation/ai-sdk/adapter.ts)
//   transform        model.pipeThrough(new TransformStream(observe))
//   from(iterator)   ReadableStream.from over an async iterator of the reader
//   push loop        a new ReadableStream (high-water mark 16) filled by a read loop
//   pipe hook        the model's own stream, its `pipeThrough` replaced on the instance by
//                    a pump (read → observe → write) into the caller's writable: no stream
//                    of our own, the pump stands in for the pipe (its cost only: it does
//                    not carry a cancel from the caller back to the model)
//
// Printed: per arm the median µs per part, and what it adds: the median of its paired
// differences with bare A, round by round.
import { cpuUsage } from 'node:process';

const ROUNDS = Number(process.argv[2] ?? 40);
const PARTS = Number(process.argv[3] ?? 500);
const SAMPLES = 4;

const part = { type: 'text-delta', id: '0', delta: 'word ' };
const finish = { type: 'finish', finishReason: 'stop', usage: { inputTokens: 20 } };

/** A provider-like model stream: parts out of a TransformStream fed one frame per pull. */
function modelStream(n) {
  let i = 0;
  const frames = new ReadableStream({
    pull(c) {
      if (i < n) c.enqueue(i++);
      else if (i === n) {
        c.enqueue(-1);
        i++;
      } else c.close();
    },
  });
  return frames.pipeThrough(
    new TransformStream({
      transform(frame, c) {
        c.enqueue(frame === -1 ? finish : part);
      },
    }),
  );
}

/** What streamText does with the model's stream, read to the end by the caller. */
async function consume(stream) {
  let seen = 0;
  await stream
    .pipeThrough(
      new TransformStream({
        transform(chunk, c) {
          c.enqueue(chunk);
        },
      }),
    )
    .pipeTo(
      new WritableStream({
        write() {
          seen++;
        },
      }),
    );
  if (seen !== PARTS + 1) throw new Error(`saw ${seen} parts`);
}

// The observer every arm calls: a type switch, as the middleware's adapter does.
const state = { pieces: 0, usage: undefined };
function observe(item) {
  switch (item.type) {
    case 'text-delta':
      state.pieces++;
      break;
    case 'finish':
      state.usage = item.usage;
      break;
  }
}

function pullSource(model) {
  const reader = model.getReader();
  let onPart;
  return new ReadableStream(
    {
      start(c) {
        onPart = (r) => {
          if (r.done) c.close();
          else c.enqueue(r.value);
        };
      },
      pull() {
        return reader
          .read()
          .then((r) => {
            if (!r.done) observe(r.value);
            return r;
          })
          .then(onPart);
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
}

function transformLayer(model) {
  return model.pipeThrough(
    new TransformStream({
      transform(chunk, c) {
        observe(chunk);
        c.enqueue(chunk);
      },
    }),
  );
}

function fromIterator(model) {
  const reader = model.getReader();
  return ReadableStream.from({
    [Symbol.asyncIterator]() {
      return {
        next: () =>
          reader.read().then((r) => {
            if (!r.done) observe(r.value);
            return r;
          }),
        return: (value) => reader.cancel().then(() => ({ done: true, value })),
      };
    },
  });
}

/**
 * A push source: reads the model stream as fast as the caller's queue takes parts
 * (a high-water mark of 16), so the caller's pipe finds them queued and takes them in
 * batches; a read waits in `pull` when the queue is full.
 */
function pushLoop(model) {
  const reader = model.getReader();
  let controller;
  let reading = false;
  // `reading` stays set through the enqueue: an enqueue may call `pull` synchronously.
  const onRead = (r) => {
    if (r.done) {
      controller.close();
      return;
    }
    observe(r.value);
    controller.enqueue(r.value);
    if (controller.desiredSize > 0) read();
    else reading = false;
  };
  const onError = (err) => controller.error(err);
  const read = () => {
    reading = true;
    reader.read().then(onRead, onError);
  };
  return new ReadableStream(
    {
      start(c) {
        controller = c;
      },
      pull() {
        if (!reading) read();
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 16 },
  );
}

/** The model's own stream, piped by a pump of ours: read, observe, write. */
function pipeHook(model) {
  const pipeTo = (dest) => {
    const reader = model.getReader();
    const writer = dest.getWriter();
    return new Promise((resolve, reject) => {
      const onRead = (r) => {
        if (r.done) {
          writer.close().then(resolve, reject);
          return;
        }
        observe(r.value);
        writer.write(r.value).catch(() => undefined);
        step();
      };
      const onError = (err) => {
        writer.abort(err).catch(() => undefined);
        reject(err);
      };
      const step = () => {
        if (writer.desiredSize > 0) reader.read().then(onRead, onError);
        else writer.ready.then(() => reader.read().then(onRead, onError), onError);
      };
      step();
    });
  };
  Object.defineProperty(model, 'pipeThrough', {
    value(t) {
      pipeTo(t.writable).catch(() => undefined);
      return t.readable;
    },
  });
  return model;
}

const ARMS = {
  'bare A': (m) => m,
  'bare B': (m) => m,
  'identity hop': (m) => m.pipeThrough(new TransformStream()),
  'pull source': pullSource,
  transform: transformLayer,
  'from(iterator)': fromIterator,
  'pipe hook': pipeHook,
  'push loop': (m) => pushLoop(m),
};

async function sample(wrap) {
  globalThis.gc?.();
  const c0 = cpuUsage();
  for (let i = 0; i < SAMPLES; i++) await consume(wrap(modelStream(PARTS)));
  const c = cpuUsage(c0);
  return (c.user + c.system) / (SAMPLES * (PARTS + 1));
}

let seed = 7;
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};
const names = Object.keys(ARMS);
const samples = Object.fromEntries(names.map((n) => [n, []]));
for (let w = 0; w < 5; w++) for (const n of names) await sample(ARMS[n]);
for (let r = 0; r < ROUNDS; r++) {
  const order = [...names].sort(() => random() - 0.5);
  for (const n of order) samples[n].push(await sample(ARMS[n]));
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
// Paired differences against bare A, round by round.
const diff = (n) => median(samples[n].map((x, i) => x - samples['bare A'][i]));
console.log(`${ROUNDS} rounds × ${SAMPLES} streams of ${PARTS} parts; µs CPU per part`);
for (const n of names) {
  const added = n === 'bare A' ? '' : `  added ${diff(n).toFixed(3)}`;
  console.log(`${n.padEnd(15)} ${median(samples[n]).toFixed(3)}${added}`);
}
