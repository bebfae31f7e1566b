import type { Span } from '@opentelemetry/api';
import { PACKAGE_NAME } from '../version.js';

/**
 * Which other instrumentations' GenAI spans describe a call tokenfuse also
 * instrumented (tokenfuse's own spans are known by their instrumentation scope).
 * The span processor reads both so no call is counted twice. Kept on `globalThis` under a registry
 * symbol because an app can load tokenfuse twice (its CJS and its ESM build),
 * and both copies must agree.
 */
interface SpanRegistry {
  covered: WeakSet<object>;
}

const KEY = Symbol.for('tokenfuse.span-registry');
const g = globalThis as { [KEY]?: SpanRegistry };
g[KEY] ??= { covered: new WeakSet() };
const registry: SpanRegistry = g[KEY];

/** Whether a span was made by tokenfuse's instrumentation (any copy of it). */
export function isOurs(span: object): boolean {
  return (
    (span as { instrumentationScope?: { name?: string } }).instrumentationScope?.name ===
    PACKAGE_NAME
  );
}

/** Marks another instrumentation's span as describing a call tokenfuse accounts itself. */
export function markCovered(span: Span): void {
  registry.covered.add(span);
}

export function isCovered(span: object): boolean {
  return registry.covered.has(span);
}
