import type { SdkModule } from '../sdk-adapter.js';

/**
 * Versions of `@anthropic-ai/sdk` whose shapes tokenfuse knows: 1.x, and 0.122+
 * (the copy `@langchain/anthropic` 1.x installs under itself). Both keep
 * `Messages` and `Beta.Messages` as the client's prototypes and return an
 * `APIPromise`.
 */
export const SUPPORTED_ANTHROPIC_VERSIONS = ['>=0.122.0 <2'];

/** The `@anthropic-ai/sdk` module, declared once for the patch and the ESM hook. */
export const ANTHROPIC_MODULE: SdkModule = {
  name: '@anthropic-ai/sdk',
  versions: SUPPORTED_ANTHROPIC_VERSIONS,
  // `@anthropic-ai/bedrock-sdk` and `@anthropic-ai/vertex-sdk` import `@anthropic-ai/sdk/client`
  // and never the entry point: without these an app using only them would have no spans.
  files: ['client.js', 'client.mjs'],
};
