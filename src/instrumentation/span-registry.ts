import type { Span } from '@opentelemetry/api';

/**
 * Which spans tokenfuse has accounted itself, and which other instrumentations'
 * GenAI spans describe a call tokenfuse also instrumented. The span processor
 * reads both so no call is counted twice. Kept on `globalThis` under a registry
 * symbol because an app can load tokenfuse twice (its CJS and its ESM build),
 * and both copies must agree.
 */
interface SpanRegistry {
  ours: WeakSet<object>;
  covered: WeakSet<object>;
}

const KEY = Symbol.for('tokenfuse.span-registry');
const g = globalThis as { [KEY]?: SpanRegistry };
g[KEY] ??= { ours: new WeakSet(), covered: new WeakSet() };
const registry: SpanRegistry = g[KEY];

export function markOurs(span: Span): void {
  registry.ours.add(span);
}

export function isOurs(span: object): boolean {
  return registry.ours.has(span);
}

/** Marks another instrumentation's span as describing a call tokenfuse accounts itself. */
export function markCovered(span: Span): void {
  registry.covered.add(span);
}

export function isCovered(span: object): boolean {
  return registry.covered.has(span);
}
