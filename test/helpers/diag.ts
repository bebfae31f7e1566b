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
  diag.setLogger(logger, DiagLogLevel.WARN);
  return messages;
}
