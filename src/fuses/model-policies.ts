import { type ModelPolicy, matches } from '../budgets/budget.js';
import { ModelNotAllowedError } from '../errors/blocked-call-error.js';
import type { Tags } from '../types.js';

/**
 * The first model policy that refuses this call's model, and the error it is
 * refused with; undefined when every policy that matches the call allows it. A
 * policy refuses a model its `denyModels` names, or one its `allowModels` (when
 * set) does not.
 */
export function policyRefusal(
  policies: readonly ModelPolicy[],
  tags: Tags,
  provider: string,
  model: string,
): ModelNotAllowedError | undefined {
  for (const policy of policies) {
    if (!matches(policy.match, tags, provider, model)) continue;
    const denied =
      policy.deny.some((re) => re.test(model)) ||
      (policy.allow !== undefined && !policy.allow.some((re) => re.test(model)));
    if (denied) return new ModelNotAllowedError(policy.name, model, policy.allow?.map(globOf));
  }
  return undefined;
}

/** The glob a model pattern was compiled from (see `globToRegExp`), for the error's list of allowed models. */
function globOf(re: RegExp): string {
  return re.source.slice(1, -1).replaceAll('.*', '*').replaceAll('\\', '');
}
