export {
  BlockedCallError,
  type BlockReason,
  type BudgetExceededDetails,
  BudgetExceededError,
  isBlockedCallError,
  isBudgetExceededError,
  isModelNotAllowedError,
  ModelNotAllowedError,
} from './blocked-call-error.js';
export { ConfigError, type ConfigIssue } from './config-error.js';
export { TokenfuseError } from './tokenfuse-error.js';
