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
import { fileURLToPath } from 'node:url';
import { type RenderedFile, runBuild, staleOf } from '../generated-files.ts';
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

/** The rules file as the shared build helpers take it. */
function renderedRules(): RenderedFile[] {
  return [{ file: RULES_FILE, text: renderRules() }];
}

/** Whether the rules file in `dir` differs from what build.ts generates (or is missing). */
export function rulesStale(dir = RULES_DIR): boolean {
  return staleOf(renderedRules(), dir).length > 0;
}

if (import.meta.main) {
  runBuild({
    what: 'Prometheus rules',
    script: 'rules',
    path: 'grafana/prometheus',
    dir: RULES_DIR,
    render: renderedRules,
  });
}
