/**
 * Budgets that apply to each value of a tag (`per: customer`): the template a
 * config names, and the concrete budget of one value, `<budget>[<value>]`. An
 * instance is an ordinary {@link Budget} with its own name, so every store keys
 * its window, spend and fuse by that name and admission and settlement treat it
 * like any other budget.
 */
import type { BudgetLimits, PerValueTag, Tags } from '../types.js';
import type { Budget } from './budget.js';

/** Tags a budget can apply to each value of; `apiKey` is the client key's id. */
export const PER_VALUE_TAGS = [
  'user',
  'feature',
  'customer',
  'apiKey',
  'department',
  'project',
  'environment',
] as const satisfies readonly PerValueTag[];

/** What makes a budget per-value: its tags and the limits of single values. */
export interface PerValue {
  tags: readonly PerValueTag[];
  overrides: ReadonlyMap<string, BudgetLimits>;
}

/** What a call offers a per-value budget: its tags and its key's id. */
export interface PerValueCall {
  tags: Tags;
  apiKey?: string | undefined;
}

/**
 * The value of `per` for a call: one tag's value, or several joined by `,` (a `,` or
 * `%` inside a value is percent-encoded so two lists cannot read the same). Undefined
 * when the call has no value for one of the tags.
 */
export function perValueKey(per: PerValue, call: PerValueCall): string | undefined {
  if (per.tags.length === 1) return tagValue(per.tags[0]!, call);
  const parts: string[] = [];
  for (const tag of per.tags) {
    const value = tagValue(tag, call);
    if (value === undefined) return undefined;
    parts.push(value.replace(/%/g, '%25').replace(/,/g, '%2C'));
  }
  return parts.join(',');
}

function tagValue(tag: PerValueTag, call: PerValueCall): string | undefined {
  const value = tag === 'apiKey' ? call.apiKey : call.tags[tag];
  return value === '' ? undefined : value;
}

/** The name of a value's budget: `<budget>[<value>]`. */
export function instanceName(template: string, key: string): string {
  return `${template}[${key}]`;
}

/**
 * The configured budget a name belongs to: `<budget>` for `<budget>[<value>]` (a
 * configured name cannot hold `[`), the name itself otherwise. Metric labels carry
 * this, never a value.
 */
export function configuredName(name: string): string {
  const i = name.indexOf('[');
  return i < 0 ? name : name.slice(0, i);
}

/**
 * The budget of one value: the template's window, thresholds, action and fuse
 * settings, its limit with the value's override applied unit by unit.
 */
export function instanceBudget(template: Budget, key: string): Budget {
  const override = template.per?.overrides.get(key);
  const { per: _per, ...rest } = template;
  return {
    ...rest,
    name: instanceName(template.name, key),
    limit: override === undefined ? template.limit : { ...template.limit, ...override },
    instance: { budget: template.name, key },
  };
}

/** Normalises `per` and `overrides` of validated budget options. */
export function normalizePerValue(
  per: PerValueTag | PerValueTag[] | undefined,
  overrides: Record<string, BudgetLimits> | undefined,
): PerValue | undefined {
  if (per === undefined) return undefined;
  const tags = [...new Set(Array.isArray(per) ? per : [per])];
  return { tags, overrides: new Map(Object.entries(overrides ?? {})) };
}
