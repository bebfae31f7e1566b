import { register as registerAsyncHook } from 'node:module';
import {
  register as registerSyncHook,
  supportsSyncHooks,
} from 'import-in-the-middle/register-hooks.mjs';
import { SDKS } from './sdks.js';

/** The only modules tokenfuse's loader hook intercepts: the instrumented SDKs. */
export const HOOKED_MODULES = SDKS.flatMap((sdk) => [
  sdk.module.name,
  // Files other packages import by their own specifier (`@anthropic-ai/sdk/client`).
  ...(sdk.module.files ?? [])
    .filter((file) => file.endsWith('.mjs'))
    .map((file) => `${sdk.module.name}/${file.slice(0, -'.mjs'.length)}`),
]);

let registered = false;

/**
 * Registers the ESM loader hook that lets the instrumentation patch `import 'openai'`,
 * limited to the instrumented SDKs: hooking every module is known to break the SDK's
 * shims, and costs every import. `tokenfuse/register` calls it; an ESM app that builds
 * its own NodeSDK calls it before it imports `openai`. Calling it again does nothing.
 */
export function registerEsmHook(): void {
  if (registered) return;
  registered = true;
  if (supportsSyncHooks()) {
    // In-thread hooks (Node >= 22.22.3 / 24.11.1): no loader thread, no message channel.
    registerSyncHook({ include: HOOKED_MODULES });
  } else {
    registerAsyncHook('import-in-the-middle/hook.mjs', import.meta.url, {
      data: { include: HOOKED_MODULES },
    });
  }
}
