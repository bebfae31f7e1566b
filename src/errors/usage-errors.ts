import { hasTokenfuseCode, TokenfuseError } from './tokenfuse-error.js';

/**
 * Thrown by `withAttribution()` when its tags are not an object of known tag names
 * with non-empty string values. `fn` is not run.
 */
export class InvalidTagsError extends TokenfuseError {
  readonly code = 'invalid_tags';
  /** The function that was given the tags (`withAttribution()`). */
  readonly caller: string;

  /** @param problem what is wrong, naming the bad key or value */
  constructor(caller: string, problem: string) {
    super(`${caller}: ${problem}`);
    this.name = 'InvalidTagsError';
    this.caller = caller;
  }
}

/**
 * Thrown by `fuses.get()`, `isolate()` and `reset()` (and the rejection of
 * `fuses.read()`) for a name that is not a configured budget. The message lists
 * the budgets there are.
 */
export class UnknownBudgetError extends TokenfuseError {
  readonly code = 'unknown_budget';
  /** The name asked for. */
  readonly budget: string;
  /** The configured budgets. */
  readonly known: readonly string[];

  constructor(budget: string, known: readonly string[]) {
    super(
      `tokenfuse: no budget named ${JSON.stringify(budget)}; budgets are ${known.length ? known.map((n) => JSON.stringify(n)).join(', ') : '(none configured)'}`,
    );
    this.name = 'UnknownBudgetError';
    this.budget = budget;
    this.known = [...known];
  }
}

/** True for an {@link InvalidTagsError}, across copies of tokenfuse. */
export function isInvalidTagsError(err: unknown): err is InvalidTagsError {
  return hasTokenfuseCode(err, 'invalid_tags');
}

/** True for an {@link UnknownBudgetError}, across copies of tokenfuse. */
export function isUnknownBudgetError(err: unknown): err is UnknownBudgetError {
  return hasTokenfuseCode(err, 'unknown_budget');
}

/**
 * Thrown by `fuses.raise()` for a raise that cannot be applied: a rolling window
 * (it has no end to raise it until), a unit the budget does not limit, or an amount
 * that is not a positive finite number. Nothing was changed.
 */
export class InvalidRaiseError extends TokenfuseError {
  readonly code = 'invalid_raise';
  readonly budget: string;

  /** @param problem what is wrong, naming the bad value */
  constructor(budget: string, problem: string) {
    super(`tokenfuse: cannot raise budget ${JSON.stringify(budget)}: ${problem}`);
    this.name = 'InvalidRaiseError';
    this.budget = budget;
  }
}

/** True for an {@link InvalidRaiseError}, across copies of tokenfuse. */
export function isInvalidRaiseError(err: unknown): err is InvalidRaiseError {
  return hasTokenfuseCode(err, 'invalid_raise');
}
