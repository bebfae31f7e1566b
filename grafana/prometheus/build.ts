// Builds tokenfuse's Prometheus alert rules from code, as ../dashboards/build.ts builds the
// dashboards.
//
//   node grafana/prometheus/build.ts           writes tokenfuse-rules.yml here
//   node grafana/prometheus/build.ts --check   exits 1 if the file differs from the build (CI)
//
// The thresholds, severities, `for:` durations and runbook links are in ../thresholds.ts, which
// the dashboards read too; metric and label names come from the metrics contract
// (src/metrics/contract.ts). The rules are in src/, one module per group. Importing this module
// writes nothing; tests use `renderRules()` and `ruleFile()`.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { budgetRules } from './src/budget-rules.ts';
import { HEADER } from './src/header.ts';
import { healthRules } from './src/health-rules.ts';
import { spendRules } from './src/spend-rules.ts';
import { type RuleFile, renderRuleFile } from './src/yaml.ts';

export type { AlertRule, RuleFile, RuleGroup } from './src/yaml.ts';

/** The directory the rules file lives in (this file's). */
export const RULES_DIR = fileURLToPath(new URL('.', import.meta.url));

/** The rules file's name. */
export const RULES_FILE = 'tokenfuse-rules.yml';

/** The rules, as data. */
export function ruleFile(): RuleFile {
  return { header: HEADER, groups: [budgetRules(), spendRules(), healthRules()] };
}

/** The exact text build.ts writes to tokenfuse-rules.yml. */
export function renderRules(): string {
  return renderRuleFile(ruleFile());
}

/** Whether the rules file in `dir` differs from what build.ts generates (or is missing). */
export function rulesStale(dir = RULES_DIR): boolean {
  try {
    return readFileSync(join(dir, RULES_FILE), 'utf8') !== renderRules();
  } catch {
    return true;
  }
}

if (import.meta.main) {
  if (process.argv.includes('--check')) {
    if (rulesStale()) {
      console.error('Prometheus rules out of date (run `npm run rules`):');
      console.error(`  grafana/prometheus/${RULES_FILE}`);
      process.exit(1);
    }
    console.log('Prometheus rules up to date.');
  } else {
    writeFileSync(join(RULES_DIR, RULES_FILE), renderRules());
    console.log(`wrote grafana/prometheus/${RULES_FILE}`);
  }
}
