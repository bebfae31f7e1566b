import { diag } from '@opentelemetry/api';

/** Returned by every `on…` subscription: call `dispose()` to unsubscribe. */
export interface Disposable {
  dispose(): void;
}

/** A typed event: subscribe with a function, get a disposable back. */
export type Subscribe<T> = (listener: (event: T) => void) => Disposable;

/**
 * One typed event stream (the cockatiel style: functions returning disposables,
 * not string-named EventEmitter events). A throwing listener is logged and does
 * not stop the others, nor the call that caused the event.
 */
export class EventSource<T> {
  private readonly listeners = new Set<(event: T) => void>();

  readonly subscribe: Subscribe<T> = (listener) => {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  };

  emit(event: T): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        diag.error('tokenfuse: an event listener threw', err);
      }
    }
  }

  get size(): number {
    return this.listeners.size;
  }
}
