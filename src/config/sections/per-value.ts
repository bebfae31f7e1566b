/** The fields of a budget that apply it to each value of a tag: `per` and `overrides`. */
import { z } from 'zod';
import { PER_VALUE_TAGS } from '../../budgets/per-value.js';
import { expecting } from '../fields.js';

const PER_VALUE_EXPECTED = `one of ${PER_VALUE_TAGS.map((t) => `'${t}'`).join(', ')}, or a list of them`;

const perTag = () => z.enum(PER_VALUE_TAGS, expecting(PER_VALUE_EXPECTED));

/** `per` and `overrides`, given the schema of a budget's `limit` (each override is one). */
export function perValueShape<Limit extends z.ZodType>(limit: Limit) {
  return {
    per: z
      .union(
        [perTag(), z.array(perTag(), expecting(PER_VALUE_EXPECTED)).min(1)],
        expecting(PER_VALUE_EXPECTED),
      )
      .optional(),
    overrides: z
      .record(
        z.string().min(1, expecting("a non-empty value of the budget's tag")),
        limit,
        expecting('an object of limits by value, e.g. { "cust-42": { usd: 500 } }'),
      )
      .optional(),
  };
}
