/**
 * `tokenfuse check`: validates a config file the way an app would load it, and
 * prints what it resolves to (budgets, policies, price overrides, labels, ledger), or
 * every problem with its file, line and field.
 */
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { windowLabel } from '../../budgets/budget.js';
import { loadConfig } from '../../config/index.js';

interface CheckOptions {
  config?: string;
}

/** A URL without its credentials, for printing. */
function withoutCredentials(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(not a URL)';
  }
}

/** A model glob back from its compiled regex, for reading. */
function globs(list: RegExp[] | undefined): string[] | undefined {
  return list?.map((r) =>
    r.source
      .replace(/^\^|\$$/g, '')
      .replace(/\.\*/g, '*')
      .replace(/\\(.)/g, '$1'),
  );
}

function runCheck(opts: CheckOptions): void {
  const config = loadConfig(opts.config ? { path: opts.config } : {});
  const resolved = {
    labels: config.metrics.labels,
    labelLimits: {
      maxValuesPerLabel: config.metrics.maxValuesPerLabel,
      maxLabelValueLength: config.metrics.maxLabelValueLength,
      maxSeries: config.metrics.maxSeries,
    },
    budgets: config.budgets.map((b) => ({
      name: b.name,
      match: b.match.spec,
      window:
        b.window.kind === 'rolling'
          ? windowLabel(b.window)
          : `${b.window.kind} (${b.window.timeZone})`,
      limit: b.limit,
      action: b.action,
      thresholds: b.thresholds,
    })),
    policies: config.policies.map((p) => ({
      name: p.name,
      match: p.match.spec,
      ...(p.allow ? { allowModels: globs(p.allow) } : {}),
      denyModels: globs(p.deny),
    })),
    priceOverrides: config.pricing.overrides,
    providers: config.providers,
    ledger: {
      store: config.ledger.store,
      ...(config.ledger.url ? { url: withoutCredentials(config.ledger.url) } : {}),
      onFailure: config.ledger.onFailure,
      ...(config.ledger.restore
        ? {
            restore: {
              prometheus: withoutCredentials(config.ledger.restore.prometheus),
              intervalSeconds: config.ledger.restore.intervalSeconds,
            },
          }
        : {}),
    },
  };
  const head =
    config.source === 'defaults'
      ? 'no config file found: the defaults (and the environment) apply'
      : `${config.source} is valid`;
  process.stdout.write(`tokenfuse configuration: ${head}\n\n${stringify(resolved)}`);
}

/** Registers `check` on the program. */
export function registerCheck(program: Command): void {
  program
    .command('check')
    .description(
      'validate a config file and print the budgets, policies, prices, labels and ledger it resolves to',
    )
    .option(
      '--config <file>',
      'config file (default: as the apps find it: TOKENFUSE_CONFIG, then tokenfuse.config.yaml)',
    )
    .action((opts: CheckOptions) => runCheck(opts));
}
