import type { SdkModule } from '../sdk-adapter.js';

/** Versions of `openai` whose shapes tokenfuse knows. */
export const SUPPORTED_OPENAI_VERSIONS = ['>=7.0.0 <8'];

/** The `openai` module, declared once for the patch and the ESM hook. */
export const OPENAI_MODULE: SdkModule = { name: 'openai', versions: SUPPORTED_OPENAI_VERSIONS };
