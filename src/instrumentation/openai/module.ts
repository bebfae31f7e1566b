import type { SdkModule } from '../sdk-adapter.js';

/**
 * Versions of `openai` whose shapes tokenfuse knows: from 4.87 (the first with
 * `responses`) through 7.x. The majors differ only where `api-promise.ts` says
 * (openai 4's APIPromise constructor and its unexported class).
 */
export const SUPPORTED_OPENAI_VERSIONS = ['>=4.87.0 <8'];

/** The `openai` module, declared once for the patch and the ESM hook. */
export const OPENAI_MODULE: SdkModule = { name: 'openai', versions: SUPPORTED_OPENAI_VERSIONS };
