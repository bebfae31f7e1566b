export {
  BlockedCallError,
  type BlockReason,
  type BudgetExceededDetails,
  BudgetExceededError,
  isBlockedCallError,
  isBudgetExceededError,
  isLedgerUnavailableError,
  isModelNotAllowedError,
  type LedgerUnavailableDetails,
  LedgerUnavailableError,
  ModelNotAllowedError,
} from './blocked-call-error.js';
export { ConfigError, type ConfigIssue } from './config-error.js';
export { NotRunningError, type NotRunningReason } from './not-running-error.js';
export { TokenfuseError } from './tokenfuse-error.js';
