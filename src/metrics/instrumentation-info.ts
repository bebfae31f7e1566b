import type { Meter, ObservableResult } from '@opentelemetry/api';
import { INSTRUMENTATION_METRIC, METRIC_HELP } from './contract.js';

/** One method an instrumentation wrapped, and whether another's wrapper replaced it. */
export interface WrapperState {
  sdk: string;
  method: string;
  replaced: boolean;
}

/**
 * `tokenfuse_instrumentation_info{sdk,version,supported}`: 1 for every SDK module
 * the process loaded, so a dashboard shows an SDK at a version tokenfuse does not
 * instrument instead of a silent zero.
 */
export class InstrumentationInfo {
  /** `sdk`, `version`, `supported` of each module loaded, by `sdk@version`. */
  private readonly loaded = new Map<string, { sdk: string; version: string; supported: string }>();

  /** @param wrappers the methods wrapped, read at each collection (`tokenfuse_instrumentation_replaced`). */
  constructor(private readonly wrappers: () => WrapperState[] = () => []) {}

  /** Records a loaded module; returns false when this sdk at this version was already recorded. */
  record(sdk: string, version: string, supported: boolean): boolean {
    const key = `${sdk}@${version}`;
    if (this.loaded.has(key)) return false;
    this.loaded.set(key, { sdk, version, supported: String(supported) });
    return true;
  }

  setMeter(meter: Meter): void {
    meter
      .createObservableGauge(INSTRUMENTATION_METRIC.info, {
        description: METRIC_HELP[INSTRUMENTATION_METRIC.info],
      })
      .addCallback((result: ObservableResult) => {
        for (const labels of this.loaded.values()) result.observe(1, labels);
      });
    meter
      .createObservableGauge(INSTRUMENTATION_METRIC.replaced, {
        description: METRIC_HELP[INSTRUMENTATION_METRIC.replaced],
      })
      .addCallback((result: ObservableResult) => {
        for (const { sdk, method, replaced } of this.wrappers()) {
          result.observe(replaced ? 1 : 0, { sdk, method });
        }
      });
  }
}
