/**
 * Startup entry: `node --import tokenfuse/register app.mjs` or
 * `node --require tokenfuse/register app.cjs`.
 *
 * Registers the ESM hook for the instrumented SDKs, then starts OpenTelemetry with tokenfuse
 * in it, before the app loads them. Whatever happens here, the app's own
 * behaviour and exit code stay its own, with one deliberate exception: an invalid
 * configuration stops the process (exit code 78), because budgets the operator
 * believes are enforced must not silently be absent.
 */
import { isMainThread, threadId } from 'node:worker_threads';
import { ConfigError } from './errors/config-error.js';
import { redactSecrets } from './errors/redact.js';
import { registerEsmHook } from './instrumentation/esm-hook.js';
import { say, unsupportedNode } from './startup.js';
import { markNotRunning, start } from './tokenfuse.js';

/** sysexits' EX_CONFIG: supervisors and CI can tell "fix the configuration" from a crash. */
const CONFIG_ERROR_EXIT_CODE = 78;

// On globalThis (by a registry symbol) so that the CJS and ESM builds, both loaded
// by `--require` and `--import` or by NODE_OPTIONS plus the command line, see it.
const REGISTERED = Symbol.for('tokenfuse.register');
const slot = globalThis as { [REGISTERED]?: 'once' | 'said' };

function register(): void {
  if (slot[REGISTERED]) {
    if (slot[REGISTERED] === 'once') {
      say(
        'tokenfuse: tokenfuse/register was loaded a second time in this process (e.g. both ' +
          '--require and --import, or NODE_OPTIONS and the command line); the second load does nothing',
      );
      slot[REGISTERED] = 'said';
    }
    return;
  }
  slot[REGISTERED] = 'once';

  // Before the ESM hook: on Node 20 registering it starts a loader thread that runs
  // `--require` preloads again, which started a second tokenfuse on the same port.
  const problem = unsupportedNode();
  if (problem) {
    say(`tokenfuse: ${problem}; tokenfuse is disabled, your app runs uninstrumented`);
    markNotRunning('unsupported_node', `Node.js v${process.versions.node}`);
    return;
  }
  // Worker threads inherit `--import`/`--require`; a second tokenfuse in one would
  // take the metrics port again and keep budgets of its own.
  if (!isMainThread) {
    say(
      `tokenfuse: not started in worker thread ${threadId} (tokenfuse/register runs in the main ` +
        'thread only); LLM calls made in this thread are not counted',
    );
    markNotRunning('worker_thread');
    return;
  }

  try {
    registerEsmHook();
    start();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(
        `${err.name}: ${err.message}\n` +
          `tokenfuse: the app was not started (exit code ${CONFIG_ERROR_EXIT_CODE}); fix the configuration, ` +
          'or set TOKENFUSE_DISABLED=true to run the app without tokenfuse\n',
      );
      process.exit(CONFIG_ERROR_EXIT_CODE);
    }
    // Our own failure must not take the app down: it runs, uninstrumented, and says so.
    const message = redactSecrets(err instanceof Error ? err.message : String(err));
    say(`tokenfuse: failed to start (${message}); your app runs uninstrumented`);
    markNotRunning('start_failed', message);
  }
}

register();
