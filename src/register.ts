/**
 * Startup entry: `node --import tokenfuse/register app.mjs` or
 * `node --require tokenfuse/register app.cjs`.
 *
 * Registers the ESM hook for `openai`, then starts OpenTelemetry with tokenfuse
 * in it, before the app loads `openai`.
 */
import { registerEsmHook } from './instrumentation/esm-hook.js';
import { start } from './tokenfuse.js';

registerEsmHook();
start();
