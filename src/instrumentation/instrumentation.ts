import { context, diag, type Meter } from '@opentelemetry/api';
import {
  InstrumentationBase,
  type InstrumentationConfig,
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
} from '@opentelemetry/instrumentation';
import type { Accountant } from '../accounting/accountant.js';
import type { ResolvedConfig } from '../config/resolved-config.js';
import type { FuseBoard } from '../fuses/fuse-board.js';
import { internalError } from '../internal-errors.js';
import { InstrumentationInfo } from '../metrics/instrumentation-info.js';
import type { PricingIssues } from '../metrics/pricing-issues.js';
import type { ProviderCostTotals } from '../metrics/pricing-metrics.js';
import { createProviderResolver } from '../pricing/providers.js';
import type { TokenfuseOptions } from '../types.js';
import { PACKAGE_NAME, PACKAGE_VERSION } from '../version.js';
import { type CallSite, CallStarter, type StartedCall } from './call-start.js';
import type { AnyFunction, PatchPoint, SdkAdapter } from './sdk-adapter.js';
import { SDKS } from './sdks.js';
import { inRanges } from './version-range.js';

/** Options of {@link TokenfuseInstrumentation}: OpenTelemetry's, plus tokenfuse's own. */
export interface TokenfuseInstrumentationConfig extends InstrumentationConfig {
  /** tokenfuse configuration (what `tokenfuse.config.yaml` holds). */
  tokenfuse?: TokenfuseOptions;
}

/**
 * @internal what the instrumentation is given, as OpenTelemetry instrumentations are
 * given their providers: the composition (`src/compose.ts`) builds it.
 */
export interface InstrumentationParts {
  config: ResolvedConfig;
  accountant: Accountant;
  /** Admission and settlement of calls against the budgets. */
  board: FuseBoard;
  /** Pricing and attribution fallbacks, counted by reason. */
  issues: PricingIssues;
  /** Provider-reported costs beside the catalog's, for `tokenfuse_cost_provider_*`. */
  providerCosts: ProviderCostTotals;
  /** Claims a batch result once per fleet (shared Redis ledger only). */
  claimOnce?: ((key: string) => Promise<boolean>) | undefined;
  /** Closes the connections the parts opened for the instrumentation. */
  closeConnections(): Promise<void>;
  /** Points every metric of these parts at `meter`. */
  setMeter(meter: Meter): void;
}

/**
 * Wraps a method that `target` only inherits (`BedrockRuntimeClient.prototype.send` is
 * `@smithy/core`'s `Client.prototype.send`, shared by every AWS SDK client) with an own
 * property of `target`, marked as shimmer marks its wrappers, so `_unwrap` undoes it. Not
 * through `_wrap`: that first unwraps the method it finds wrapped, which for an inherited
 * method strips another instrumentation's patch from the base class (for
 * `@opentelemetry/instrumentation-aws-sdk`, from every AWS client in the process). The wrapper
 * looks the method up on the prototype at each call, so a later patch or unpatch of the base
 * is still reached, and its unwrap deletes it, so `target` inherits the method again.
 */
function wrapInherited(
  target: object,
  method: string,
  make: (original: AnyFunction) => AnyFunction,
): void {
  const slot = target as Record<string, unknown>;
  const proto = Object.getPrototypeOf(target) as Record<string, AnyFunction>;
  const resolved = proto[method];
  const wrapped = make(function inherited(this: unknown, ...args: unknown[]) {
    return proto[method]!.apply(this, args);
  });
  const hidden = (value: unknown) => ({ value, configurable: true, writable: true });
  Object.defineProperty(wrapped, '__original', hidden(resolved));
  Object.defineProperty(wrapped, '__wrapped', hidden(true));
  Object.defineProperty(
    wrapped,
    '__unwrap',
    hidden(() => {
      if (slot[method] === wrapped) delete slot[method];
    }),
  );
  Object.defineProperty(target, method, hidden(wrapped));
}

/**
 * @internal OpenTelemetry instrumentation of every SDK in {@link SDKS}, given its
 * parts (budgets, accountant, config) the way OpenTelemetry instrumentations are
 * given providers. It knows SDKs only through their adapters (`sdk-adapter.ts`).
 * Users construct {@link TokenfuseInstrumentation} (src/compose.ts), which composes
 * the parts.
 */
export class LlmInstrumentation extends InstrumentationBase<TokenfuseInstrumentationConfig> {
  private readonly parts: InstrumentationParts;
  private readonly starter: CallStarter;
  /** Each SDK's per-instrumentation state, by adapter. */
  private readonly sessions = new Map<SdkAdapter, unknown>();
  /** What was patched in each loaded module, to unpatch exactly that. */
  private readonly patched = new WeakMap<object, PatchPoint[]>();
  /**
   * The wrappers this instrumentation installed: the entry point and a file of the same
   * copy (`@anthropic-ai/sdk` and its `client.js`) share their prototypes, patched once.
   * Per instance: another tokenfuse's wrapper left on a prototype is replaced, as before.
   */
  private readonly ourWrappers = new WeakSet<object>();
  /** Every SDK module loaded, supported or not (`tokenfuse_instrumentation_info`). */
  private readonly info = new InstrumentationInfo(() => this.wrapperStates());
  /** Each method this instrumentation wrapped, with the wrapper it installed there. */
  private readonly installed: Array<{ sdk: string; point: PatchPoint; wrapper: object }> = [];
  /** The methods found replaced, said once each. */
  private readonly saidReplaced = new WeakSet<object>();

  constructor(config: TokenfuseInstrumentationConfig, parts: InstrumentationParts) {
    super(PACKAGE_NAME, PACKAGE_VERSION, config);
    this.parts = parts;
    const providerOf = createProviderResolver(parts.config.providers);
    this.starter = new CallStarter(parts, () => this.tracer, providerOf);
    for (const sdk of SDKS) {
      this.sessions.set(
        sdk,
        sdk.createSession({
          config: parts.config,
          accountant: parts.accountant,
          issues: parts.issues,
          board: parts.board,
          tracer: () => this.tracer,
          providerOf,
          claimOnce: parts.claimOnce,
        }),
      );
    }
    // The base constructor ran _updateMetricInstruments before `parts` existed.
    this.parts.setMeter(this.meter);
    this.info.setMeter(this.meter);
  }

  override enable(): void {
    super.enable();
    // undefined while the base constructor enables, before `parts` exists
    this.parts?.accountant.countBoundedEstimates(true);
  }

  override disable(): void {
    super.disable();
    this.parts?.accountant.countBoundedEstimates(false);
  }

  /** Closes the connection that marks batch results as counted (Redis ledger only). */
  async closeConnections(): Promise<void> {
    await this.parts.closeConnections();
  }

  /** The accountant that prices and counts this instrumentation's calls. */
  get accountant(): Accountant {
    return this.parts.accountant;
  }

  protected override _updateMetricInstruments(): void {
    // Called by the base class whenever the meter provider changes.
    this.parts?.setMeter(this.meter);
    this.info?.setMeter(this.meter);
  }

  protected init() {
    return SDKS.map((sdk) => {
      // Both run inside the app's `require` / `import` of the SDK, where OpenTelemetry's hook
      // catches nothing: a throw here (an export whose getter throws, a frozen prototype)
      // would fail the app's import. It is counted and logged instead, and the module is
      // returned as it is (what was patched before the throw stays patched).
      const patch = (moduleExports: any, version: string | undefined) => {
        try {
          if (!this.supported(sdk, version)) return moduleExports;
          const loaded = sdk.load(moduleExports, this.sessions.get(sdk));
          // The entry point and a file of the same copy share their prototypes: patch once.
          const points = (loaded?.patchPoints ?? []).filter(
            (point) =>
              !this.ourWrappers.has(
                (point.target as Record<string, any> | undefined)?.[point.method],
              ),
          );
          // Every point of this module, those patched through another file of the same copy
          // or by an earlier patch included: unpatching it restores them all.
          if (loaded) this.patched.set(moduleExports, loaded.patchPoints);
          for (const point of points) {
            this.patch(sdk.module.name, point, (operation) => ({
              sdk,
              adapter: operation,
              promises: loaded!.promises,
            }));
          }
        } catch (err) {
          internalError(
            'instrumentation',
            `instrumenting ${sdk.module.name} failed; its calls may not be instrumented`,
            err,
            version === undefined ? undefined : `version ${version}`,
          );
        }
        return moduleExports;
      };
      const unpatch = (moduleExports: any) => {
        try {
          for (const { target, method } of this.patched.get(moduleExports) ?? []) {
            const installed = (target as Record<string, unknown> | undefined)?.[method];
            // Only our own wrappers: one already restored (through the entry point or
            // another file of the same copy) has nothing left to unwrap.
            if (target && this.ourWrappers.has(installed as object))
              this._unwrap(target as Record<string, AnyFunction>, method);
          }
        } catch (err) {
          internalError(
            'instrumentation',
            `removing tokenfuse from ${sdk.module.name} failed; some of its methods stay wrapped`,
            err,
          );
        }
      };
      const files = (sdk.module.files ?? []).map(
        (file) =>
          new InstrumentationNodeModuleFile(`${sdk.module.name}/${file}`, ['*'], patch, unpatch),
      );
      // Every version: the base would skip an unsupported one in silence.
      return new InstrumentationNodeModuleDefinition(sdk.module.name, ['*'], patch, unpatch, files);
    });
  }

  /**
   * Whether the loaded `version` of `sdk` is one its folder declares; records it in
   * `tokenfuse_instrumentation_info` and, once per version, warns when it is not.
   */
  private supported(sdk: SdkAdapter, version: string | undefined): boolean {
    const { name, versions } = sdk.module;
    const supported = version !== undefined && inRanges(version, versions);
    const found = version ?? 'unknown';
    if (this.info.record(name, found, supported) && !supported) {
      diag.warn(
        `tokenfuse: ${name} ${found} is not a supported version (supported: ${versions.join(' || ')}); ` +
          `its calls are not instrumented: no spans, metrics or fuses ` +
          `(tokenfuse_instrumentation_info{sdk="${name}",version="${found}",supported="false"})`,
      );
    }
    return supported;
  }

  private patch(
    sdk: string,
    point: PatchPoint,
    siteOf: (operation: NonNullable<PatchPoint['operation']>) => CallSite,
  ): void {
    const { target, method, name, operation, operationOf, wrapper } = point;
    if (!target) {
      diag.warn(`tokenfuse: ${sdk} has no ${name} to instrument`);
      return;
    }
    const enabled = () => this.isEnabled();
    const make = (original: AnyFunction): AnyFunction => {
      if (operation) return this.patchedCall(original, siteOf(operation));
      if (operationOf)
        return this.dispatchedCall(original, operationOf, siteOf, point.callbackLast === true);
      return wrapper!(original, enabled);
    };
    if (Object.hasOwn(target, method))
      this._wrap(target as Record<string, AnyFunction>, method, make);
    else wrapInherited(target, method, make);
    const installed = (target as Record<string, unknown>)[method];
    if (typeof installed === 'function') {
      this.ourWrappers.add(installed);
      this.installed.push({ sdk, point, wrapper: installed });
    }
  }

  /**
   * Whether each method this instrumentation wrapped still holds its wrapper. Another
   * OpenTelemetry instrumentation patched later (`@opentelemetry/instrumentation-openai`)
   * first unwraps what it finds, so its wrapper replaces ours: that SDK's calls are then
   * counted only from its spans, never admitted. Said once per method in the diag log;
   * `tokenfuse_instrumentation_replaced{sdk,method}` is 1 for it. A method unpatched on
   * purpose (disable, unpatch) is no longer listed.
   */
  wrapperStates(): Array<{ sdk: string; method: string; replaced: boolean }> {
    const states: Array<{ sdk: string; method: string; replaced: boolean }> = [];
    for (let i = this.installed.length - 1; i >= 0; i--) {
      const { sdk, point, wrapper } = this.installed[i]!;
      const current = (point.target as Record<string, unknown>)[point.method] as
        | { __original?: unknown; __wrapped?: boolean }
        | undefined;
      // Our own unwrap puts the original back: not a replacement, and no longer ours to watch.
      const unpatched = current !== wrapper && !current?.__wrapped;
      if (unpatched || !this.isEnabled()) {
        if (unpatched) this.installed.splice(i, 1);
        continue;
      }
      const replaced = current !== wrapper && !this.ourWrappers.has(current as object);
      if (replaced && !this.saidReplaced.has(wrapper)) {
        this.saidReplaced.add(wrapper);
        diag.warn(
          `tokenfuse: the ${sdk} method ${point.name} that tokenfuse instrumented was re-wrapped by ` +
            `another instrumentation loaded after it; its calls are now counted only from that ` +
            `instrumentation's spans (as observed spend) and budgets cannot block them. Load ` +
            `tokenfuse's instrumentation after the other one, or disable the other for this SDK ` +
            `(tokenfuse_instrumentation_replaced{sdk="${sdk}",method="${point.name}"} is 1).`,
        );
      }
      states.push({ sdk, method: point.name, replaced });
    }
    return states;
  }

  /** The wrapper of a method that serves many operations, one patched call per operation. */
  private dispatchedCall(
    original: AnyFunction,
    operationOf: NonNullable<PatchPoint['operationOf']>,
    siteOf: (operation: NonNullable<PatchPoint['operation']>) => CallSite,
    callbackLast: boolean,
  ): AnyFunction {
    const self = this;
    const calls = new Map<NonNullable<PatchPoint['operation']>, AnyFunction>();
    return function tokenfuseDispatch(this: unknown, ...args: unknown[]) {
      let operation: PatchPoint['operation'];
      try {
        operation = operationOf(this, args);
      } catch (err) {
        internalError(
          'instrumentation',
          'reading which operation a call is failed; calling it untouched',
          err,
        );
      }
      if (operation === undefined) return original.apply(this, args);
      let call = calls.get(operation);
      if (call === undefined) {
        call = self.patchedCall(original, siteOf(operation));
        calls.set(operation, call);
      }
      const callback = callbackLast ? args.at(-1) : undefined;
      if (typeof callback !== 'function') return call.apply(this, args);
      // The callback form: the promise form without the callback, its outcome handed to
      // the callback as the SDK does it (a throwing callback is swallowed there too).
      const settled = call.apply(this, args.slice(0, -1)) as PromiseLike<unknown>;
      Promise.resolve(settled)
        .then(
          (value) => callback(null, value),
          (err: unknown) => callback(err),
        )
        .catch(() => {});
      return undefined;
    };
  }

  /**
   * @internal one model call through the same wrapper as a patched method, for an
   * extension point that is no patch (the AI SDK's middleware): `original` is
   * called with `thisArg` and the arguments as the site's SDK adapter rebuilds them.
   */
  callThrough(site: CallSite, thisArg: unknown, original: AnyFunction, args: unknown[]): unknown {
    // Straight into the call: no wrapper function (and its context) made per call.
    return this.runCall(original, site, thisArg, args);
  }

  /** The wrapper of one model call. Our failures never reach the caller. */
  private patchedCall(original: AnyFunction, site: CallSite): AnyFunction {
    const self = this;
    return function tokenfuseCall(this: unknown, ...args: unknown[]) {
      return self.runCall(original, site, this, args);
    };
  }

  /** One model call through the wrapper: tags, admission, span, then the SDK's own call. */
  private runCall(
    original: AnyFunction,
    site: CallSite,
    thisArg: unknown,
    args: unknown[],
  ): unknown {
    if (!this.isEnabled()) return original.apply(thisArg, args);
    let started: StartedCall | Promise<StartedCall>;
    try {
      started = this.starter.start(site, thisArg, args);
    } catch (err) {
      internalError(
        'instrumentation',
        `instrumenting ${site.adapter.api}.create failed; calling it untouched`,
        err,
      );
      return original.apply(thisArg, args);
    }
    if (!(started instanceof Promise))
      return this.send(thisArg, original, site, started, undefined);
    return this.sendLater(thisArg, original, site, args, started);
  }

  /**
   * Admission answers later (the shared Redis ledger): the SDK's own promise type at
   * once, the request only once admitted; a blocked call sends nothing. Apart from the
   * wrapper, whose every call would otherwise make a context for these closures.
   */
  private sendLater(
    thisArg: unknown,
    original: AnyFunction,
    site: CallSite,
    args: unknown[],
    started: Promise<StartedCall>,
  ): unknown {
    const ready = started.then(undefined, (err: unknown): StartedCall => {
      // Our own failure: send the call untouched.
      internalError(
        'instrumentation',
        `admitting a ${site.adapter.api}.create call failed; calling it untouched`,
        err,
      );
      return { call: undefined, callArgs: args, ctx: context.active(), blocked: undefined };
    });
    return site.promises.deferred(thisArg, ready, (call, view) =>
      this.send(thisArg, original, site, call, view),
    );
  }

  /** Sends an admitted call (observing its result), or returns a blocked call's rejection. */
  private send(
    thisArg: unknown,
    original: AnyFunction,
    site: CallSite,
    { call, callArgs, ctx, blocked }: StartedCall,
    callerView: unknown,
  ): unknown {
    if (blocked !== undefined) return site.promises.rejected(thisArg, blocked);
    let result: unknown;
    try {
      result = context.with(ctx, () => original.apply(thisArg, callArgs));
    } catch (err) {
      call?.fail(err);
      throw err;
    }
    if (call === undefined) return result;
    try {
      const observed = call.attach(result, callerView ?? result);
      if (observed !== undefined) return observed;
      call.fail(new Error(`${site.adapter.api}.create returned no APIPromise`));
    } catch (err) {
      internalError(
        'instrumentation',
        'hooking the SDK promise failed; the call itself is unaffected',
        err,
      );
    }
    return result;
  }
}
