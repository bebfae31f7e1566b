/** The `budgets` and `policies` sections: limits per window, and model allow/deny lists. */
import { z } from 'zod';
import { boolean, configObject, duration, expecting, positiveInteger, text } from '../fields.js';
import { EXPECTED, expectedMessage } from '../messages.js';
import { perValueShape } from './per-value.js';

/** A limit of a budget: a finite number > 0. */
function limitNumber() {
  const message = expecting(EXPECTED.limit);
  return z.number(message).positive(message).finite(message);
}
const budgetName = () =>
  z
    .string(expecting(EXPECTED.budgetName))
    .regex(/^[a-zA-Z0-9_.:-]+$/, expecting(EXPECTED.budgetName));

const matchShape = {
  department: text().optional(),
  project: text().optional(),
  environment: text().optional(),
  provider: text().optional(),
};
const budgetMatchSchema = configObject({ ...matchShape, model: text().optional() });
const policyMatchSchema = configObject(matchShape);

const windowSchema = z.union(
  [z.enum(['minute', 'hour', 'day', 'month']), configObject({ rolling: duration() })],
  expecting(EXPECTED.window),
);

const budgetLimitSchema = configObject({
  tokens: limitNumber().optional(),
  usd: limitNumber().optional(),
  requests: limitNumber().optional(),
}).refine(
  (limit) => limit.tokens !== undefined || limit.usd !== undefined || limit.requests !== undefined,
  {
    error: 'no limit given; set at least one of tokens, usd, requests',
  },
);

const budgetSchema = configObject({
  name: budgetName(),
  match: budgetMatchSchema.optional(),
  window: windowSchema,
  limit: budgetLimitSchema,
  thresholds: z
    .array(
      z
        .number(expecting(EXPECTED.thresholds))
        .gt(0, expecting(EXPECTED.thresholds))
        .lte(1, expecting(EXPECTED.thresholds)),
      expecting(EXPECTED.thresholds),
    )
    .optional(),
  action: z.enum(['block', 'monitor'], expecting(EXPECTED.action)).optional(),
  timeZone: z
    .string(expecting(EXPECTED.timeZone))
    .refine(isTimeZone, {
      error: (issue) => expectedMessage(EXPECTED.timeZone, issue.input),
    })
    .optional(),
  cooldown: duration().optional(),
  probes: positiveInteger().optional(),
  cutOffStreams: boolean().optional(),
  observedSpend: z.enum(['count', 'ignore'], expecting(EXPECTED.observedSpend)).optional(),
  ...perValueShape(budgetLimitSchema),
});

const policySchema = configObject({
  name: budgetName(),
  match: policyMatchSchema.optional(),
  allowModels: z.array(text(), expecting(EXPECTED.globs)).optional(),
  denyModels: z.array(text(), expecting(EXPECTED.globs)).optional(),
});

/** Names must be unique: they are metric labels and what errors and alerts refer to. */
function uniqueNames<T extends { name: string }>(what: string) {
  return (items: T[], ctx: z.RefinementCtx) => {
    const seen = new Map<string, number>();
    items.forEach((item, i) => {
      const first = seen.get(item.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [i, 'name'],
          message: `duplicate ${what} name ${JSON.stringify(item.name)} (also ${what}s[${first}])`,
        });
      } else seen.set(item.name, i);
    });
  };
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** `budgets`: every budget valid, and no name twice. */
export const budgetsSchema = z
  .array(budgetSchema, expecting(EXPECTED.budgets))
  .superRefine(uniqueNames('budget'));

/** `policies`: every policy valid, and no name twice. */
export const policiesSchema = z
  .array(policySchema, expecting(EXPECTED.policies))
  .superRefine(uniqueNames('policy'));
