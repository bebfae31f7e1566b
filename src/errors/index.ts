export { ConfigError, type ConfigIssue } from './config-error.js';
export { TokenfuseError } from './tokenfuse-error.js';
