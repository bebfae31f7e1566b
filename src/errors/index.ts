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
export { ConfigError, type ConfigIssue, isConfigError } from './config-error.js';
export {
  isLedgerControlError,
  isLedgerPermissionError,
  LedgerControlError,
  LedgerPermissionError,
} from './ledger-control-error.js';
export { isNotRunningError, NotRunningError, type NotRunningReason } from './not-running-error.js';
export {
  isRestoreError,
  isRestoreNotConfiguredError,
  RestoreError,
  type RestoreFailureReason,
  RestoreNotConfiguredError,
  type RestoreNotConfiguredReason,
} from './restore-errors.js';
export { isTokenfuseError, TokenfuseError, type TokenfuseErrorCode } from './tokenfuse-error.js';
export {
  InvalidRaiseError,
  InvalidTagsError,
  isInvalidRaiseError,
  isInvalidTagsError,
  isUnknownBudgetError,
  UnknownBudgetError,
} from './usage-errors.js';
