import type { SdkModule } from '../sdk-adapter.js';

/**
 * Versions of `@google/genai` whose shapes tokenfuse knows: 3.x assigns the public
 * `models.*` methods per instance and sends one request per `*Internal` prototype
 * method, which is what is patched.
 */
export const SUPPORTED_GOOGLE_GENAI_VERSIONS = ['>=3.0.0 <4'];

/** The `@google/genai` module, declared once for the patch and the ESM hook. */
export const GOOGLE_GENAI_MODULE: SdkModule = {
  name: '@google/genai',
  versions: SUPPORTED_GOOGLE_GENAI_VERSIONS,
};
