/**
 * Startup entry: `node --import tokenfuse/register app.mjs` or
 * `node --require tokenfuse/register app.cjs`.
 *
 * Starts OpenTelemetry with tokenfuse in it before the app loads `openai`. For
 * ESM apps it registers an import hook limited to `openai`: hooking every
 * module is known to break the SDK's shims, and costs every import.
 */
import { register as registerAsyncHook } from 'node:module';
import {
  register as registerSyncHook,
  supportsSyncHooks,
} from 'import-in-the-middle/register-hooks.mjs';
import { start } from './tokenfuse.js';

const HOOKED_MODULES = ['openai'];

if (supportsSyncHooks()) {
  // In-thread hooks (Node >= 22.22.3 / 24.11.1): no loader thread, no message channel.
  registerSyncHook({ include: HOOKED_MODULES });
} else {
  registerAsyncHook('import-in-the-middle/hook.mjs', import.meta.url, {
    data: { include: HOOKED_MODULES },
  });
}

start();
