// The one source of the numbers the dashboards and the alert rules share (as kubernetes-mixin's
// config does): utilization thresholds and their colours, each alert's severity and `for:`
// duration, the fuse-state codes, the spend-spike factor, and the runbook link of every alert.
// dashboards/build.ts and prometheus/build.ts both read it; changing a number here and running
// both builds changes the panels' thresholds and the rules together.
import { readFileSync } from 'node:fs';

/** Severity label of an alert; the example Alertmanager config routes by it. */
export type Severity = 'critical' | 'warning' | 'info';

/** Labels and `for:` of one alert. */
export interface AlertParams {
  severity: Severity;
  /** Prometheus `for:`: how long the condition holds before the alert fires. */
  for: string;
}

/** Every alert tokenfuse ships, in the order of the rules file. */
export const ALERTS = {
  LLMBudget50Percent: { severity: 'info', for: '2m' },
  LLMBudget75Percent: { severity: 'warning', for: '2m' },
  LLMBudget90Percent: { severity: 'warning', for: '2m' },
  LLMBudgetExhausted: { severity: 'critical', for: '1m' },
  LLMFuseOpen: { severity: 'critical', for: '1m' },
  LLMBudgetWouldBlock: { severity: 'warning', for: '5m' },
  LLMBudgetValueOverLimit: { severity: 'warning', for: '1m' },
  LLMBudgetProjectedOverrun: { severity: 'warning', for: '30m' },
  LLMUnpricedUsage: { severity: 'info', for: '15m' },
  LLMSpendSpike: { severity: 'warning', for: '10m' },
  LLMMetricsOverflow: { severity: 'warning', for: '5m' },
  LLMInternalErrors: { severity: 'warning', for: '1m' },
} as const satisfies Record<string, AlertParams>;

/** The name of a shipped alert. */
export type AlertName = keyof typeof ALERTS;

/**
 * The repository's web address, from package.json `repository` (the one place it is set):
 * `git+https://host/owner/name.git` → `https://host/owner/name`.
 */
export function repositoryWebUrl(pkg: { repository?: string | { url?: string } }): string {
  const raw = typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url;
  if (!raw)
    throw new Error('package.json has no "repository": the runbook links are built from it');
  return raw.replace(/^git\+/, '').replace(/\.git$/, '');
}

const PACKAGE = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

/** Where grafana/runbook.md is published (main branch); each alert links to its own section. */
export const RUNBOOK_URL = `${repositoryWebUrl(PACKAGE)}/blob/main/grafana/runbook.md`;

/** GitHub's anchor of the runbook section `## <alert>`: the heading in lower case. */
export function runbookUrl(alert: AlertName): string {
  return `${RUNBOOK_URL}#${alert.toLowerCase()}`;
}

/** One utilization threshold: where the panel colour changes and which alert starts there. */
export interface UtilizationThreshold {
  /** Spent / limit at which it starts. */
  at: number;
  /** Grafana colour of utilization from here to the next threshold. */
  color: string;
  /** The alert firing from here to the next threshold. */
  alert: AlertName;
}

/** Colour of utilization below the first threshold. */
export const UTILIZATION_BASE_COLOR = 'green';

/**
 * Utilization thresholds, ascending; the default `onThreshold` events of a budget fire at the
 * same fractions (test/rules.test.ts holds them to src/budgets' DEFAULT_THRESHOLDS). At the last
 * (1) the fuse opens.
 */
export const UTILIZATION_THRESHOLDS: readonly UtilizationThreshold[] = [
  { at: 0.5, color: 'yellow', alert: 'LLMBudget50Percent' },
  { at: 0.75, color: 'orange', alert: 'LLMBudget75Percent' },
  { at: 0.9, color: 'red', alert: 'LLMBudget90Percent' },
  { at: 1, color: 'dark-red', alert: 'LLMBudgetExhausted' },
];

/** The threshold at which `alert` starts. */
export function thresholdOf(alert: AlertName): number {
  const found = UTILIZATION_THRESHOLDS.find((t) => t.alert === alert);
  if (!found) throw new Error(`${alert} is not a utilization alert`);
  return found.at;
}

/** The thresholds as text, e.g. `50/75/90/100%`. */
export function thresholdPercents(): string {
  return `${UTILIZATION_THRESHOLDS.map((t) => Math.round(t.at * 100)).join('/')}%`;
}

/** Values of `tokenfuse_fuse_state`. */
export const FUSE_STATE = { closed: 0, halfOpen: 1, open: 2 } as const;

/**
 * LLMSpendSpike: a department alerts when its 15-minute spend rate is more than `factor` times
 * its 24-hour average and above `floorUsdPerHour`.
 */
export const SPEND_SPIKE = { factor: 3, floorUsdPerHour: 1 } as const;
