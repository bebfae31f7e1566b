/**
 * Failures inside tokenfuse: each is counted (`tokenfuse_internal_errors_total{component}`,
 * src/metrics/internal-errors.ts) and logged once per kind through the OpenTelemetry diag
 * logger, and the user's call goes on. Counted for the process, whichever tokenfuse instance
 * failed: they are bugs or hostile objects, not spend.
 */
import { diag } from '@opentelemetry/api';
import {
  INTERNAL_ERROR_COMPONENTS,
  INTERNAL_ERRORS_METRIC,
  type InternalErrorComponent,
} from './metrics/contract.js';

interface InternalErrors {
  counts: Map<InternalErrorComponent, number>;
  /** The kinds (`what`) already logged. Bounded: each is a fixed text of one call site. */
  said: Set<string>;
}

// On `globalThis` under a registry symbol, as the span registry is: an app can load tokenfuse
// twice (its CommonJS and its ESM build), and the process has one count.
const KEY = Symbol.for('tokenfuse.internal-errors');
const g = globalThis as { [KEY]?: InternalErrors };
g[KEY] ??= {
  counts: new Map(INTERNAL_ERROR_COMPONENTS.map((component) => [component, 0])),
  said: new Set(),
};
const { counts, said } = g[KEY];

/**
 * Counts one failure of `component` and, the first time this kind of failure (`what`, a fixed
 * text such as "reading an LLM response failed; the call itself is unaffected") is seen, logs it
 * with the error and `detail` (what only this first one is about); later ones are counted only.
 */
export function internalError(
  component: InternalErrorComponent,
  what: string,
  err: unknown,
  detail?: string,
): void {
  counts.set(component, (counts.get(component) ?? 0) + 1);
  if (said.has(what)) return;
  said.add(what);
  diag.error(
    `tokenfuse: ${what}${detail ? ` (the first: ${detail})` : ''}; logged once, ` +
      `${INTERNAL_ERRORS_METRIC.name}{component="${component}"} counts each`,
    err,
  );
}

/** The failures counted so far, by component (every component, 0 included). */
export function internalErrorCounts(): ReadonlyMap<InternalErrorComponent, number> {
  return counts;
}
