/**
 * tokenfuse: LLM cost observability and budget fuses for Node.js, built on OpenTelemetry.
 *
 * Most apps need none of this: `node --import tokenfuse/register app.mjs` does it all.
 * The exports are for tagging calls, for apps with their own OpenTelemetry setup,
 * and for serving metrics through prom-client.
 */

export { Accountant, UNATTRIBUTED } from './accounting/accountant.js';
export { CostSpanProcessor } from './accounting/cost-span-processor.js';
export type { AccountingResult, Outcome, UsageRecord } from './accounting/usage-record.js';
export {
  contextWithAttribution,
  currentAttribution,
  withAttribution,
} from './attribution/context.js';
export { TokenfuseInstrumentation } from './compose.js';
export { loadConfig } from './config/load-config.js';
export { type ResolvedConfig, resolveConfig } from './config/resolved-config.js';
export {
  BlockedCallError,
  type BlockReason,
  type BudgetExceededDetails,
  BudgetExceededError,
  ConfigError,
  type ConfigIssue,
  InvalidRaiseError,
  InvalidTagsError,
  isBlockedCallError,
  isBudgetExceededError,
  isConfigError,
  isInvalidRaiseError,
  isInvalidTagsError,
  isLedgerControlError,
  isLedgerPermissionError,
  isLedgerUnavailableError,
  isModelNotAllowedError,
  isNotRunningError,
  isRestoreNotConfiguredError,
  isTokenfuseError,
  isUnknownBudgetError,
  LedgerControlError,
  LedgerPermissionError,
  type LedgerUnavailableDetails,
  LedgerUnavailableError,
  ModelNotAllowedError,
  NotRunningError,
  type NotRunningReason,
  RestoreNotConfiguredError,
  type RestoreNotConfiguredReason,
  TokenfuseError,
  type TokenfuseErrorCode,
  UnknownBudgetError,
} from './errors/index.js';
export type { Disposable, Subscribe } from './fuses/events.js';
export type { FuseState } from './fuses/fuse.js';
export type { FuseBoard } from './fuses/fuse-board.js';
export type {
  BlockedEvent,
  ResetEvent,
  StateChangeEvent,
  ThresholdEvent,
  TripEvent,
} from './fuses/fuse-events.js';
export type { FuseSnapshot } from './fuses/fuse-snapshot.js';
export type { BudgetRestore } from './fuses/spend-restorer.js';
export type { Ledger } from './fuses/stores/ledger.js';
export {
  SUPPORTED_AI_VERSIONS,
  type TokenfuseMiddleware,
} from './instrumentation/ai-sdk/index.js';
export { registerEsmHook } from './instrumentation/esm-hook.js';
export type { TokenfuseInstrumentationConfig } from './instrumentation/instrumentation.js';
export { SUPPORTED_OPENAI_VERSIONS } from './instrumentation/openai/module.js';
export { type CardinalityCaps, tokenfuseMetricViews } from './metrics/cardinality.js';
export { METRIC } from './metrics/instruments.js';
export { OVERFLOW_VALUE } from './metrics/label-limiter.js';
export { PromClientBridge, type PromClientRegistryLike } from './metrics/prom-client-bridge.js';
export { PriceBook, type PriceResult } from './pricing/price-book.js';
export { PriceCatalog } from './pricing/price-catalog.js';
export type { NormalizedUsage } from './pricing/usage.js';
export type { RestoreFailure } from './restore/prometheus-restore.js';
export {
  type AdvancedOptions,
  createTokenfuse,
  getRuntime,
  METRIC_NAMES,
  registerTokenfuseMetrics,
  type StartOptions,
  start,
  type Tokenfuse,
  type TokenfuseMiddlewareOptions,
  type TokenfuseRuntime,
  tokenfuseMiddleware,
} from './tokenfuse.js';
export type * from './types.js';
