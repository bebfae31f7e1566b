export { type ConfigIssue, ConfigError } from './config-error.js';
export { TokenfuseError } from './tokenfuse-error.js';
