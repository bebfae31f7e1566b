/**
 * The series tables of docs/metrics.md, generated from the metrics contract
 * (src/metrics/contract.ts, contract-semconv-latest.ts, contract-labels.ts): every
 * metric's Prometheus and OpenTelemetry name, type, unit, labels and help, in the
 * contract's order, and the table of labels. Units and label names come from the
 * contract; what each label means is written here, in LABEL_DESCRIPTIONS, and a label
 * the contract names that has no description stops `npm run docs` with an error naming it.
 */
import {
  BUDGET_LABELS,
  DEFAULT_METRIC_LABELS,
  INTERNAL_ERROR_COMPONENTS,
  METRIC_HELP,
  METRIC_LABELS,
  METRIC_TYPE,
  type OtelMetricName,
  OUTCOMES,
  PER_VALUE_KEY_LABEL,
  PER_VALUE_STATES,
  PROMETHEUS_NAME,
  TOKEN_TYPES,
} from '../../src/metrics/contract.js';
import {
  type LabelGroup,
  SEMCONV_LATEST_SERIES_SHAPE,
  SERIES_SHAPE,
  type SeriesLabel,
  type SeriesShape,
} from '../../src/metrics/contract-labels.js';
import {
  SEMCONV_LATEST_CONTRACT_METRICS,
  SEMCONV_LATEST_METRIC,
} from '../../src/metrics/contract-semconv-latest.js';
import { markdownTable } from './generated-blocks.js';

const code = (values: readonly string[]) => values.map((v) => `\`${v}\``).join(', ');

/** How the series tables name each group of labels. */
const GROUP_WORDS: Readonly<Record<LabelGroup, string>> = {
  allowlisted: 'allowlisted labels',
  semconv: 'semconv attributes',
  match: 'match labels',
};

/**
 * What each label the contract names means (groups by their words). Every label of
 * src/metrics/contract-labels.ts needs one: the generator throws naming any without.
 */
export const LABEL_DESCRIPTIONS: Readonly<Record<string, string>> = {
  [GROUP_WORDS.allowlisted]: `The labels listed in \`metrics.labels\`, of ${code(METRIC_LABELS)}; by default ${code(DEFAULT_METRIC_LABELS)}. See [Labels: allowlist and cap](#labels-allowlist-and-cap).`,
  [GROUP_WORDS.semconv]:
    '`gen_ai_operation_name` (`chat` or `embeddings`; Responses API calls are `chat`), `gen_ai_provider_name`, `gen_ai_request_model`, plus the allowlisted tag labels.',
  [GROUP_WORDS.match]: `The fields of the budget's \`match\`, of ${code(BUDGET_LABELS)} (\`department="marketing"\`, \`model="gpt-4.1*"\`, …).`,
  gen_ai_token_type:
    '`input` (cached input included, as the semantic conventions define it) or `output`.',
  gen_ai_token_modality:
    '`audio` for the audio tokens a provider reports apart, `unknown` for the rest (and for a call that failed before any usage).',
  error_type: 'The type of the error of a failed call.',
  type: `The kind of token: ${code(TOKEN_TYPES)}. Each token is in exactly one type.`,
  outcome: `How the call ended: ${code(OUTCOMES)}.`,
  budget: 'The name of the budget (on a blocked call: the budget or policy that stopped it).',
  window: "The budget's window: `minute`, `hour`, `day`, `month`, or `rolling_` and its length.",
  unit: 'The limited unit: `tokens`, `usd` or `requests`.',
  [PER_VALUE_KEY_LABEL]:
    'The value of a per-value budget (a user, customer, API key id, …) among the top N by utilisation (`metrics.perValueTop`).',
  state: `The state of a per-value budget's values: ${code(PER_VALUE_STATES)}.`,
  provider: "tokenfuse's provider id ([Providers](pricing.md#providers)).",
  model: 'The model the call asked for.',
  field:
    'The usage field as the provider (or a foreign span) named it (`prompt_tokens`, `gen_ai.usage.input_tokens`, …).',
  reason: "Why it was counted: each metric's reasons are in its note under the series table.",
  operation:
    '`admit`, `settle`, `reconcile` (the shared Redis ledger) or `restore` (from Prometheus).',
  action: 'The manual action: `isolate`, `reset` or `raise`.',
  instrument: 'The OpenTelemetry instrument whose series the cardinality limit folded together.',
  sdk: "The SDK module's npm name.",
  version: 'The version of the SDK module found (`unknown` when its package.json has none).',
  supported: '`"true"` when that version is in the range tokenfuse instruments, else `"false"`.',
  method: 'The SDK method tokenfuse wrapped, as `chat.completions.create`.',
  component: `Where inside tokenfuse it failed: ${code(INTERNAL_ERROR_COMPONENTS)}.`,
};

/** The name a series table gives `label`, which LABEL_DESCRIPTIONS must describe. */
function labelName(label: SeriesLabel): string {
  if (typeof label === 'string') return label;
  return 'group' in label ? GROUP_WORDS[label.group] : label.label;
}

/** The description of `label`, or an error naming it and the metric it is on. */
function descriptionOf(label: SeriesLabel, metric: string): string {
  const name = labelName(label);
  const description = LABEL_DESCRIPTIONS[name];
  if (description === undefined) {
    throw new Error(
      `metrics reference: label "${name}" of ${metric} has no description: add one to LABEL_DESCRIPTIONS in scripts/docs/metrics-reference.ts`,
    );
  }
  return description;
}

/**
 * A series table's Labels cell for `metric`: every label of its shape, each one described
 * (the cell is not written for a label without a description: the error names it).
 */
export function labelsCell(shape: SeriesShape, metric: string): string {
  const words = shape.labels.map((label) => {
    descriptionOf(label, metric);
    if (typeof label === 'string') return `\`${label}\``;
    if ('group' in label) return GROUP_WORDS[label.group];
    return `\`${label.label}\` (${label.only})`;
  });
  const text = words.length > 0 ? words.join(', ') : 'none';
  return shape.only === undefined ? text : `${text} (${shape.only})`;
}

/** A series table's Unit cell: the unit, or the label that names it (described like the others). */
function unitCell(shape: SeriesShape, metric: string): string {
  if (typeof shape.unit === 'string') return shape.unit;
  descriptionOf(shape.unit.label, metric);
  return `\`${shape.unit.label}\``;
}

/** Every instrument of the contract, in its order (the groups the contract declares). */
export function contractInstruments(): OtelMetricName[] {
  return Object.keys(METRIC_TYPE) as OtelMetricName[];
}

/** The series table: one row per metric of the contract. */
export function metricsReference(): string {
  const rows = contractInstruments().map((otel) => {
    const name = PROMETHEUS_NAME[otel];
    const shape = SERIES_SHAPE[otel];
    return [
      `\`${name}\``,
      `\`${otel}\``,
      METRIC_TYPE[otel],
      unitCell(shape, name),
      labelsCell(shape, name),
      METRIC_HELP[otel],
    ];
  });
  return markdownTable(
    ['Series', 'OpenTelemetry name', 'Type', 'Unit', 'Labels', 'Description (`# HELP`)'],
    rows,
  );
}

/** The semantic-conventions-genai pull request that defined each opt-in metric. */
const OPT_IN_PR: Readonly<Record<string, number>> = {
  [SEMCONV_LATEST_METRIC.usageInputTokens]: 374,
  [SEMCONV_LATEST_METRIC.usageOutputTokens]: 374,
  [SEMCONV_LATEST_METRIC.usageCacheReadTokens]: 374,
  [SEMCONV_LATEST_METRIC.usageCacheWriteTokens]: 374,
  [SEMCONV_LATEST_METRIC.usageReasoningTokens]: 374,
  [SEMCONV_LATEST_METRIC.operationInputTokens]: 374,
  [SEMCONV_LATEST_METRIC.operationOutputTokens]: 374,
  [SEMCONV_LATEST_METRIC.duration]: 521,
  [SEMCONV_LATEST_METRIC.timeToFirstChunk]: 521,
};

/**
 * The opt-in table: the metrics `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`
 * adds, with the semantic-conventions-genai pull request that defined each.
 */
export function metricsOptInReference(): string {
  const otelNames = Object.values(SEMCONV_LATEST_METRIC);
  const rows = SEMCONV_LATEST_CONTRACT_METRICS.map(({ name, type, help }, i) => {
    const otel = otelNames[i]!;
    const shape = SEMCONV_LATEST_SERIES_SHAPE[otel];
    const pr = OPT_IN_PR[otel];
    return [
      `\`${name}\``,
      `\`${otel}\``,
      type,
      unitCell(shape, name),
      labelsCell(shape, name),
      help,
      pr === undefined
        ? ''
        : `[#${pr}](https://github.com/open-telemetry/semantic-conventions-genai/pull/${pr})`,
    ];
  });
  return markdownTable(
    [
      'Series',
      'OpenTelemetry name',
      'Type',
      'Unit',
      'Labels',
      'Description (`# HELP`)',
      'Defined in',
    ],
    rows,
  );
}

/**
 * The labels table: every label (or group) the series tables name, in the order they
 * first appear there, with what it means and the series that carry it.
 */
export function metricsLabelsReference(): string {
  const carriers = new Map<string, string[]>();
  const shapes: Array<[string, SeriesShape]> = [
    ...contractInstruments().map((otel): [string, SeriesShape] => [
      PROMETHEUS_NAME[otel],
      SERIES_SHAPE[otel],
    ]),
    ...SEMCONV_LATEST_CONTRACT_METRICS.map(({ name }, i): [string, SeriesShape] => [
      name,
      SEMCONV_LATEST_SERIES_SHAPE[Object.values(SEMCONV_LATEST_METRIC)[i]!],
    ]),
  ];
  for (const [metric, shape] of shapes) {
    for (const label of shape.labels) {
      descriptionOf(label, metric);
      const name = labelName(label);
      carriers.set(name, [...(carriers.get(name) ?? []), metric]);
    }
  }
  const rows = [...carriers].map(([name, metrics]) => [
    name in GROUP_WORDS_BY_NAME ? name : `\`${name}\``,
    LABEL_DESCRIPTIONS[name]!,
    metrics.length <= 3 ? code(metrics) : `${metrics.length} series`,
  ]);
  return markdownTable(['Label', 'Description', 'On'], rows);
}

const GROUP_WORDS_BY_NAME: Readonly<Record<string, true>> = Object.fromEntries(
  Object.values(GROUP_WORDS).map((words) => [words, true]),
);
