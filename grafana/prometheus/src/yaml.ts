// Writes a Prometheus rules file as text. The `yaml` package's stringify cannot place the
// comments that explain each rule, nor keep an expression's or a description's line breaks where
// a reader wants them, so the few shapes a rules file needs are written here: `expr` as a literal
// block (`|`, line breaks kept), `description` as a folded block (`>-`, lines joined by spaces),
// the other values as plain scalars. test/rules.test.ts parses the output back and compares it
// with the rules it was written from.
import { ALERTS, type AlertName, runbookUrl } from '../../thresholds.ts';

/** One alerting rule; its severity, `for:` and runbook link come from ../thresholds.ts. */
export interface AlertRule {
  /** Comment lines above the rule, without `# ` (an empty string is a bare `#`). */
  comment?: string[];
  alert: AlertName;
  /** PromQL, one string per line (indent kept). */
  expr: string[];
  /** One sentence, the same for every instance of the alert. */
  summary: string;
  /** Folded: the lines are joined by spaces. */
  description: string[];
}

export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

export interface RuleFile {
  /** Comment lines at the top of the file. */
  header: string[];
  groups: RuleGroup[];
}

function comment(lines: string[], indent: string): string[] {
  return lines.map((line) => (line === '' ? `${indent}#` : `${indent}# ${line}`));
}

/** A plain scalar: refused if YAML would read it as something else than the same text. */
function plain(value: string): string {
  if (/^[\s!&*?|>'"%@`#,[\]{}-]|: | #|\s$|\n/.test(value)) {
    throw new Error(`not a plain YAML scalar, write it otherwise: ${JSON.stringify(value)}`);
  }
  return value;
}

function block(lines: string[], indent: string): string[] {
  return lines.map((line) => `${indent}${line}`);
}

/** A folded block's lines: a blank or indented line would keep its line break. */
function folded(lines: string[], indent: string): string[] {
  for (const line of lines) {
    if (/^\s|^$|\s$/.test(line)) throw new Error(`not a line to fold: ${JSON.stringify(line)}`);
  }
  return block(lines, indent);
}

function renderRule(rule: AlertRule): string[] {
  const { severity, for: duration } = ALERTS[rule.alert];
  return [
    ...comment(rule.comment ?? [], '      '),
    `      - alert: ${plain(rule.alert)}`,
    '        expr: |',
    ...block(rule.expr, '          '),
    `        for: ${plain(duration)}`,
    '        labels:',
    `          severity: ${plain(severity)}`,
    '        annotations:',
    `          summary: ${plain(rule.summary)}`,
    '          description: >-',
    ...folded(rule.description, '            '),
    `          runbook_url: ${plain(runbookUrl(rule.alert))}`,
  ];
}

/** The text of a rules file: comments, then groups; a blank line between rules and groups. */
export function renderRuleFile(file: RuleFile): string {
  const groups = file.groups.map((group) =>
    [
      `  - name: ${plain(group.name)}`,
      '    rules:',
      ...group.rules.flatMap((rule, i) => [...(i > 0 ? [''] : []), ...renderRule(rule)]),
    ].join('\n'),
  );
  return `${[...comment(file.header, ''), 'groups:', groups.join('\n\n')].join('\n')}\n`;
}
