import { anthropicSdk } from './anthropic/index.js';
import { bedrockSdk } from './bedrock/index.js';
import { googleGenAiSdk } from './google-genai/index.js';
import { openaiSdk } from './openai/index.js';
import type { SdkAdapter } from './sdk-adapter.js';

/** The SDK folders the instrumentation patches: adding an SDK adds its folder's adapter here. */
export const SDKS: readonly SdkAdapter<any>[] = [
  openaiSdk,
  anthropicSdk,
  googleGenAiSdk,
  bedrockSdk,
];
