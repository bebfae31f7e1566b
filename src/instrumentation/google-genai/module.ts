import type { SdkModule } from '../sdk-adapter.js';

/**
 * Versions of `@google/genai` whose shapes tokenfuse knows: they assign the public
 * `models.*` methods per instance and send one request per `*Internal` prototype
 * method, which is what is patched. 1.42.0 is the first with `embedContentInternal`
 * (earlier 1.x embed through a public method this adapter does not patch); the
 * behaviour suite runs against 1.42.0, 2.32.0 and 3.x side by side.
 */
export const SUPPORTED_GOOGLE_GENAI_VERSIONS = ['>=1.42.0 <4'];

/** The `@google/genai` module, declared once for the patch and the ESM hook. */
export const GOOGLE_GENAI_MODULE: SdkModule = {
  name: '@google/genai',
  versions: SUPPORTED_GOOGLE_GENAI_VERSIONS,
};
