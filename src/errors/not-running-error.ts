import { hasTokenfuseCode, TokenfuseError } from './tokenfuse-error.js';

/** Why {@link NotRunningError} was thrown: what happened (or did not) at startup. */
export type NotRunningReason =
  /** Neither `tokenfuse/register` nor `start()` ran in this process. */
  | 'not_started'
  /** `enabled: false` or `TOKENFUSE_DISABLED`. */
  | 'disabled'
  /** The Node.js version is below what tokenfuse supports; `tokenfuse/register` did nothing. */
  | 'unsupported_node'
  /** A worker thread: `tokenfuse/register` starts tokenfuse in the main thread only. */
  | 'worker_thread'
  /** `tokenfuse/register` failed (not a configuration error); the app runs uninstrumented. */
  | 'start_failed'
  /** `shutdown()` was called. */
  | 'shut_down';

const HOW_TO_START =
  'start the app with `node --import tokenfuse/register app.mjs` (ESM) or ' +
  '`node --require tokenfuse/register app.cjs` (CommonJS), or call start() first';

/**
 * Thrown by `getRuntime()` and the other accessors of the running tokenfuse when
 * there is none in this process. `code` is `not_running`; `reason` says why.
 *
 * @example
 * try {
 *   getRuntime().fuses.onTrip(alert);
 * } catch (err) {
 *   if (err.code !== 'not_running') throw err; // e.g. TOKENFUSE_DISABLED=true
 * }
 */
export class NotRunningError extends TokenfuseError {
  readonly code = 'not_running';
  readonly reason: NotRunningReason;

  /**
   * @param caller what was called, named in the message (`getRuntime()`)
   * @param detail more about the reason (the Node version, the config source)
   * @param hint another way to the same end, added to the message
   */
  constructor(caller: string, reason: NotRunningReason, detail = '', hint = '') {
    const why = {
      not_started: HOW_TO_START,
      disabled: `it is disabled${detail ? ` (${detail})` : ''}`,
      unsupported_node: `it refused to start on ${detail || 'this Node.js version'}`,
      worker_thread: 'tokenfuse/register starts it in the main thread only, not in worker threads',
      start_failed: `it failed to start${detail ? ` (${detail})` : ''}`,
      shut_down: 'shutdown() was called',
    }[reason];
    super(`${caller}: tokenfuse is not running: ${why}${hint ? `; ${hint}` : ''}`);
    this.name = 'NotRunningError';
    this.reason = reason;
  }
}

/** True for a {@link NotRunningError}, across copies of tokenfuse. */
export function isNotRunningError(err: unknown): err is NotRunningError {
  return hasTokenfuseCode(err, 'not_running');
}
