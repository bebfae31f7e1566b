/**
 * The metrics contract's series shapes: the unit of every instrument and the labels its
 * series carry. Beside contract.ts (names, types, help) and contract-semconv-latest.ts,
 * and keyed by their names, so an instrument added there has no shape until one is added
 * here (the records below are complete by type). docs/metrics.md is generated from them,
 * and `npm run docs` fails naming any label here that it has no description for.
 */
import {
  FUSE_METRIC,
  INSTRUMENTATION_INFO_LABELS,
  INSTRUMENTATION_METRIC,
  INSTRUMENTATION_REPLACED_LABELS,
  INTERNAL_ERRORS_METRIC,
  METRIC,
  type OtelMetricName,
  PER_VALUE_KEY_LABEL,
  PRICING_ISSUES_METRIC,
  PRICING_METRIC,
  SERIES_OVERFLOW_METRIC,
} from './contract.js';
import { SEMCONV_LATEST_METRIC, type SemconvLatestMetricName } from './contract-semconv-latest.js';

/**
 * Sets of labels that configuration decides: `allowlisted` the tags and `provider`/`model`
 * listed in `metrics.labels`, `semconv` the GenAI semantic-convention attributes (plus the
 * allowlisted tags), `match` the fields of a budget's `match`.
 */
export type LabelGroup = 'allowlisted' | 'semconv' | 'match';

/**
 * A label of an instrument's series: a name every series carries, a name only some carry
 * (`only` says which), or a group of labels.
 */
export type SeriesLabel =
  | string
  | { readonly label: string; readonly only: string }
  | { readonly group: LabelGroup };

/** An instrument's unit and labels. */
export interface SeriesShape {
  /** The unit of its values, or the label that names it. */
  readonly unit: string | { readonly label: string };
  readonly labels: readonly SeriesLabel[];
  /** When it is exported at all, if not always. */
  readonly only?: string;
}

const ALLOWLISTED = { group: 'allowlisted' } as const;
const SEMCONV = { group: 'semconv' } as const;
const MATCH = { group: 'match' } as const;
const ERROR_TYPE = { label: 'error_type', only: 'failed calls' } as const;
const BUDGET_SERIES = ['budget', 'window', 'unit', MATCH] as const;
const FUSE_SERIES = ['budget', 'window', MATCH] as const;

/** Unit and labels of every instrument of the contract. */
export const SERIES_SHAPE: Readonly<Record<OtelMetricName, SeriesShape>> = {
  [METRIC.tokenUsage]: { unit: 'tokens', labels: [SEMCONV, 'gen_ai_token_type'] },
  [METRIC.operationDuration]: { unit: 'seconds', labels: [SEMCONV, ERROR_TYPE] },
  [METRIC.timeToFirstChunk]: { unit: 'seconds', labels: [SEMCONV] },
  [METRIC.tokens]: { unit: 'tokens', labels: [ALLOWLISTED, 'type'] },
  [METRIC.cost]: { unit: 'USD', labels: [ALLOWLISTED] },
  [METRIC.requests]: {
    unit: 'calls',
    labels: [ALLOWLISTED, 'outcome', { label: 'budget', only: 'blocked calls' }],
  },
  [METRIC.unpriced]: { unit: 'calls', labels: [ALLOWLISTED] },
  [METRIC.usageInvalid]: { unit: 'fields', labels: ['provider', 'model', 'field'] },
  [METRIC.seriesDropped]: { unit: 'calls', labels: ['reason'] },
  [METRIC.estimateBounded]: { unit: 'estimates', labels: ['reason'] },
  [FUSE_METRIC.limit]: { unit: { label: 'unit' }, labels: BUDGET_SERIES },
  [FUSE_METRIC.spent]: { unit: { label: 'unit' }, labels: BUDGET_SERIES },
  [FUSE_METRIC.utilization]: { unit: 'ratio', labels: BUDGET_SERIES },
  [FUSE_METRIC.state]: { unit: 'state', labels: FUSE_SERIES },
  [FUSE_METRIC.trips]: { unit: 'trips', labels: FUSE_SERIES },
  [FUSE_METRIC.wouldBlock]: { unit: 'calls', labels: FUSE_SERIES, only: 'monitor only' },
  [FUSE_METRIC.ledgerErrors]: {
    unit: 'failures',
    labels: ['operation', 'reason'],
    only: 'shared ledger, restore',
  },
  [FUSE_METRIC.webhookDropped]: {
    unit: 'messages',
    labels: ['reason'],
    only: 'with webhooks only',
  },
  [FUSE_METRIC.topUtilization]: {
    unit: 'ratio',
    labels: ['budget', { label: PER_VALUE_KEY_LABEL, only: 'top N values' }],
  },
  [FUSE_METRIC.values]: { unit: 'values', labels: ['budget', 'state'], only: 'per-value budgets' },
  [FUSE_METRIC.unkeyed]: { unit: 'calls', labels: ['budget'], only: 'per-value budgets' },
  [FUSE_METRIC.manualActions]: { unit: 'actions', labels: ['action'], only: 'with budgets' },
  [PRICING_METRIC.catalogAge]: { unit: 'seconds', labels: [] },
  [PRICING_METRIC.catalogErrors]: { unit: 'loads', labels: [] },
  [PRICING_METRIC.providerCost]: { unit: 'USD', labels: ['provider'] },
  [PRICING_METRIC.providerCatalogCost]: { unit: 'USD', labels: ['provider'] },
  [PRICING_ISSUES_METRIC.otel]: { unit: 'figures', labels: PRICING_ISSUES_METRIC.labels },
  [INTERNAL_ERRORS_METRIC.otel]: { unit: 'failures', labels: INTERNAL_ERRORS_METRIC.labels },
  [INSTRUMENTATION_METRIC.info]: { unit: '1', labels: INSTRUMENTATION_INFO_LABELS },
  [INSTRUMENTATION_METRIC.replaced]: { unit: '1', labels: INSTRUMENTATION_REPLACED_LABELS },
  [SERIES_OVERFLOW_METRIC.otel]: { unit: 'collections', labels: SERIES_OVERFLOW_METRIC.labels },
};

const BY_MODALITY: SeriesShape = { unit: 'tokens', labels: [SEMCONV, 'gen_ai_token_modality'] };

/** Unit and labels of every opt-in instrument (contract-semconv-latest.ts). */
export const SEMCONV_LATEST_SERIES_SHAPE: Readonly<Record<SemconvLatestMetricName, SeriesShape>> = {
  [SEMCONV_LATEST_METRIC.usageInputTokens]: BY_MODALITY,
  [SEMCONV_LATEST_METRIC.usageOutputTokens]: BY_MODALITY,
  [SEMCONV_LATEST_METRIC.usageCacheReadTokens]: BY_MODALITY,
  [SEMCONV_LATEST_METRIC.usageCacheWriteTokens]: BY_MODALITY,
  [SEMCONV_LATEST_METRIC.usageReasoningTokens]: BY_MODALITY,
  [SEMCONV_LATEST_METRIC.operationInputTokens]: { unit: 'tokens', labels: [SEMCONV, ERROR_TYPE] },
  [SEMCONV_LATEST_METRIC.operationOutputTokens]: {
    unit: 'tokens',
    labels: [SEMCONV, ERROR_TYPE],
  },
  [SEMCONV_LATEST_METRIC.duration]: { unit: 'seconds', labels: [SEMCONV, ERROR_TYPE] },
  [SEMCONV_LATEST_METRIC.timeToFirstChunk]: { unit: 'seconds', labels: [SEMCONV] },
};
