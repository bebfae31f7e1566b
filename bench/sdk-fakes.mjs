// What the in-process SDK clients of bench/sdk-clients.mjs share: the SDKs' loader (the
// checkout's own dev dependencies), canned responses and the timing of one stream.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const require = createRequire(new URL('../package.json', import.meta.url));
export const encoder = new TextEncoder();

/** The installed version of `pkg`, from the package.json above its entry point. */
export function versionOf(pkg) {
  let dir = dirname(require.resolve(pkg));
  for (;;) {
    try {
      const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (json.version && json.name) return json.version;
    } catch {}
    const up = dirname(dir);
    if (up === dir) throw new Error(`bench: no package.json above ${pkg}`);
    dir = up;
  }
}

/** A response body that hands out one pre-encoded frame per read, as a socket would. */
export function frameStream(frames) {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < frames.length) controller.enqueue(frames[i++]);
      else controller.close();
    },
  });
}
export const sse = (frames) =>
  new Response(frameStream(frames), { headers: { 'content-type': 'text/event-stream' } });
export const json = (body) =>
  new Response(body, { headers: { 'content-type': 'application/json' } });
/** Frames of a stream of `n` content chunks, built once per length. */
export function byLength(build) {
  const cache = new Map();
  return (n) => {
    let f = cache.get(n);
    if (!f) {
      f = build(n);
      cache.set(n, f);
    }
    return f;
  };
}
// openai 4 sends its JSON body indented, the later majors compact.
export const STREAMING = /"stream":\s*true/;

/**
 * Times one stream: `now` at the start, at the first chunk and at the end; fails unless
 * exactly `n` content chunks came out.
 */
export async function timed(label, n, now, open, isContent) {
  const t0 = now();
  let first = 0;
  let seen = 0;
  for await (const c of await open()) {
    if (first === 0) first = now();
    if (isContent(c)) seen++;
  }
  const end = now();
  if (seen !== n) throw new Error(`bench: ${label} streamed ${seen} chunks, not ${n}`);
  return { ttfc: first - t0, total: end - t0 };
}

/**
 * One SDK under test.
 * @typedef {object} Sdk
 * @property {string} label package and version
 * @property {string} definition the name of tokenfuse's module definition that patches it
 * @property {any} module the loaded module, handed to that definition's patch/unpatch
 * @property {string} version
 * @property {() => Promise<unknown>} call one non-streamed call
 * @property {(n: number, now: () => number) => Promise<{ ttfc: number, total: number }>} stream
 */
