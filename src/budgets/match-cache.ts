import type { Tags } from '../types.js';
import { type Budget, matches } from './budget.js';

/** Attribution sets remembered; past it the cache starts afresh (a bound, not an LRU: sets are few). */
const MAX_SETS = 4096;

/**
 * The budgets a call matches, computed once per attribution set (department,
 * project, environment, provider, model: all `matches` reads) and kept: a call's
 * matching costs one map lookup instead of a glob test per budget. The budgets
 * are fixed for the board's life, so nothing invalidates an entry; the map is
 * cleared when it holds {@link MAX_SETS} sets, so memory stays bounded whatever
 * the models and tags seen.
 */
export class MatchCache {
  private readonly sets = new Map<string, readonly Budget[]>();
  /** The last set looked up, checked first: calls mostly repeat one attribution. */
  private last:
    | {
        provider: string;
        model: string;
        department: string | undefined;
        project: string | undefined;
        environment: string | undefined;
        list: readonly Budget[];
      }
    | undefined;

  /** @param budgets the budgets to match against, in their order. */
  constructor(private readonly budgets: readonly Budget[]) {}

  /** The budgets matching the call, in configured order; the list is shared: do not change it. */
  matched(tags: Tags, provider: string, model: string): readonly Budget[] {
    if (this.budgets.length === 0) return this.budgets;
    const last = this.last;
    if (
      last !== undefined &&
      last.model === model &&
      last.provider === provider &&
      last.department === tags.department &&
      last.project === tags.project &&
      last.environment === tags.environment
    )
      return last.list;
    // \u0000 separates fields; \u0001 stands for an absent tag (an empty one is a value).
    const key = `${provider}\u0000${model}\u0000${tags.department ?? '\u0001'}\u0000${tags.project ?? '\u0001'}\u0000${tags.environment ?? '\u0001'}`;
    let list = this.sets.get(key);
    if (list === undefined) {
      list = this.budgets.filter((b) => matches(b.match, tags, provider, model));
      if (this.sets.size >= MAX_SETS) this.sets.clear();
      this.sets.set(key, list);
    }
    this.last = {
      provider,
      model,
      department: tags.department,
      project: tags.project,
      environment: tags.environment,
      list,
    };
    return list;
  }
}
