/** Configuration: the schema of the options, and the resolution of file, code and environment. */
export {
  CONFIG_FILE_NAMES,
  CONFIG_PATH_ENV,
  type LoadConfigOptions,
  loadConfig,
} from './load-config.js';
export {
  CONFIG_DEFAULTS,
  type ResolvedConfig,
  type ResolveOptions,
  resolveConfig,
} from './resolved-config.js';
export {
  configObject,
  type OptionsIssue,
  type OptionsValidation,
  tokenfuseOptionsSchema,
  tokenfuseOptionsShape,
  validateOptions,
} from './schema.js';
