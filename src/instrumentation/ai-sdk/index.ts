export { SUPPORTED_AI_VERSIONS } from './adapter.js';
export {
  type AiSdkMiddlewareSettings,
  type CallRunner,
  createAiSdkMiddleware,
  type TokenfuseMiddleware,
} from './middleware.js';
