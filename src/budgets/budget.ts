import { globToRegExp } from '../glob.js';
import type {
  BudgetLimits,
  BudgetMatch,
  BudgetOptions,
  ModelPolicyOptions,
  Tags,
} from '../types.js';
import { parseDuration } from './duration.js';
import { normalizePerValue, type PerValue } from './per-value.js';

/** The units a budget can limit. */
export type Unit = 'tokens' | 'usd' | 'requests';
export const UNITS: readonly Unit[] = ['tokens', 'usd', 'requests'];

/** An amount in every unit. */
export type Amounts = Record<Unit, number>;
export const ZERO: Readonly<Amounts> = Object.freeze({ tokens: 0, usd: 0, requests: 0 });

/** A normalised window: calendar, or rolling over `durationMs`. */
export type Window =
  | { kind: 'minute' | 'hour' | 'day' | 'month'; timeZone: string }
  | { kind: 'rolling'; durationMs: number; label: string };

/** A compiled match: fields absent match anything. */
export interface Matcher {
  department?: string;
  project?: string;
  environment?: string;
  provider?: string;
  model?: RegExp;
  /** The match as configured, for labels and messages. */
  spec: BudgetMatch;
}

/** A budget, normalised: every default applied, globs compiled, durations parsed. */
export interface Budget {
  name: string;
  match: Matcher;
  window: Window;
  limit: BudgetLimits;
  thresholds: number[];
  action: 'block' | 'monitor';
  cooldownMs: number;
  probes: number;
  cutOffStreams: boolean;
  /** Whether calls seen only in other instrumentations' spans count against it. */
  observedSpend: 'count' | 'ignore';
  /** A per-value budget (`per:`): never admitted against itself, only through its values' budgets. */
  per?: PerValue;
  /** The budget of one value of a per-value budget: which, and the value. */
  instance?: BudgetInstance;
}

/**
 * Which per-value budget a value's budget belongs to, and the value. The layers that
 * keep the value add their own slots to it by declaration merging (the fuse board its
 * entry, the in-memory store its account), so that each finds its record of the value
 * with no lookup, and this layer imports none of theirs.
 */
export interface BudgetInstance {
  budget: string;
  key: string;
}

/** A model policy, normalised. */
export interface ModelPolicy {
  name: string;
  match: Matcher;
  allow: RegExp[] | undefined;
  deny: RegExp[];
}

export const DEFAULT_THRESHOLDS = [0.5, 0.75, 0.9, 1];
export const DEFAULT_COOLDOWN_MS = 5 * 60_000;
export const DEFAULT_PROBES = 3;

export function compileMatch(spec: BudgetMatch = {}): Matcher {
  const m: Matcher = { spec };
  if (spec.department !== undefined) m.department = spec.department;
  if (spec.project !== undefined) m.project = spec.project;
  if (spec.environment !== undefined) m.environment = spec.environment;
  if (spec.provider !== undefined) m.provider = spec.provider;
  if (spec.model !== undefined) m.model = globToRegExp(spec.model);
  return m;
}

/** Whether a call with these tags, provider and model is one `m` matches. */
export function matches(m: Matcher, tags: Tags, provider: string, model: string): boolean {
  return (
    (m.department === undefined || m.department === tags.department) &&
    (m.project === undefined || m.project === tags.project) &&
    (m.environment === undefined || m.environment === tags.environment) &&
    (m.provider === undefined || m.provider === provider) &&
    (m.model === undefined || m.model.test(model))
  );
}

/** Normalises validated budget options (the schema has checked types and ranges). */
export function normalizeBudget(options: BudgetOptions): Budget {
  const window: Window =
    typeof options.window === 'string'
      ? { kind: options.window, timeZone: options.timeZone ?? 'UTC' }
      : {
          kind: 'rolling',
          durationMs: parseDuration(options.window.rolling) ?? 3_600_000,
          label: `rolling_${options.window.rolling}`,
        };
  const thresholds = [...new Set(options.thresholds ?? DEFAULT_THRESHOLDS)].sort((a, b) => a - b);
  return {
    name: options.name,
    match: compileMatch(options.match),
    window,
    limit: { ...options.limit },
    thresholds,
    action: options.action ?? 'block',
    cooldownMs: options.cooldown
      ? (parseDuration(options.cooldown) ?? DEFAULT_COOLDOWN_MS)
      : DEFAULT_COOLDOWN_MS,
    probes: options.probes ?? DEFAULT_PROBES,
    cutOffStreams: options.cutOffStreams ?? false,
    observedSpend: options.observedSpend ?? 'count',
    ...withPerValue(normalizePerValue(options.per, options.overrides)),
  };
}

function withPerValue(per: PerValue | undefined): { per?: PerValue } {
  return per === undefined ? {} : { per };
}

export function normalizePolicy(options: ModelPolicyOptions): ModelPolicy {
  return {
    name: options.name,
    match: compileMatch(options.match),
    allow: options.allowModels?.map(globToRegExp),
    deny: (options.denyModels ?? []).map(globToRegExp),
  };
}

/** The `window` label value: `hour`, `month`, `rolling_1h`, … */
export function windowLabel(window: Window): string {
  return window.kind === 'rolling' ? window.label : window.kind;
}
