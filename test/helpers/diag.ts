import { type DiagLogger, DiagLogLevel, diag } from '@opentelemetry/api';

/**
 * Routes the OpenTelemetry diag logger's warnings and errors into the returned array,
 * each line its arguments joined by spaces. Undo with `diag.disable()`.
 */
export function captureDiag(): string[] {
  const messages: string[] = [];
  const log = (...args: unknown[]) => messages.push(args.map(String).join(' '));
  const logger: DiagLogger = {
    error: log,
    warn: log,
    info: () => {},
    debug: () => {},
    verbose: () => {},
  };
  // Replacing whatever logger a start() or an earlier test set is the point: no warning.
  diag.setLogger(logger, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  return messages;
}
