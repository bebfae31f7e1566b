/**
 * `tokenfuse prices MODEL`: the price tokenfuse would apply to a model, where it comes
 * from (a price override of the config, or the catalog), and what a given usage costs.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config/index.js';
import { globToRegExp } from '../../glob.js';
import { PriceBook } from '../../pricing/price-book.js';
import type { NormalizedUsage } from '../../pricing/usage.js';
import { CliError } from '../cli-error.js';
import { count, usd } from '../report/render-text.js';

interface PricesOptions {
  provider: string;
  tokens?: string;
  config?: string;
}

const usage = (u: Partial<NormalizedUsage>): NormalizedUsage => ({
  input: 0,
  cacheRead: 0,
  cacheWrite: 0,
  output: 0,
  reasoning: 0,
  ...u,
});

/** `INPUT:OUTPUT[:CACHED[:CACHE_WRITE]]`, each a whole number of tokens. */
function parseTokens(text: string): NormalizedUsage {
  const parts = text.split(':');
  if (parts.length < 2 || parts.length > 4 || !parts.every((p) => /^\d+$/.test(p)))
    throw new CliError(
      `--tokens: expected INPUT:OUTPUT[:CACHED[:CACHE_WRITE]] (e.g. 1000:500:200), got ${JSON.stringify(text)}`,
      2,
    );
  const [input, output, cacheRead = 0, cacheWrite = 0] = parts.map(Number);
  return usage({ input, output, cacheRead, cacheWrite });
}

/** The version of the bundled catalog (genai-prices dates none of its data). */
function catalogVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    let dir = dirname(require.resolve('@pydantic/genai-prices'));
    for (let i = 0; i < 4; i++, dir = dirname(dir)) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
        if (pkg.name === '@pydantic/genai-prices') return `@pydantic/genai-prices ${pkg.version}`;
      } catch {
        // not the package root yet
      }
    }
  } catch {
    // fall through
  }
  return '@pydantic/genai-prices';
}

function runPrices(model: string, opts: PricesOptions): void {
  const config = loadConfig(opts.config ? { path: opts.config } : {});
  const book = new PriceBook({ overrides: config.pricing.overrides, providers: config.providers });
  const provider = opts.provider;
  const at = (u: Partial<NormalizedUsage>) => book.price(provider, model, usage(u));
  const probe = at({ input: 1000 });
  if (!probe.priced)
    throw new CliError(
      `no price for model ${JSON.stringify(model)} with provider ${JSON.stringify(provider)}: neither a price override in ${config.source} nor the catalog (${catalogVersion()}) has it`,
    );
  // Per million tokens, measured at a thousand (below any tier of a tiered price).
  const perMtok = (u: Partial<NormalizedUsage>) =>
    `$${(at(u).usd * 1000).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 6 })}`;
  const lines: string[] = [`model     ${model}`, `provider  ${provider}`];
  if (probe.source === 'override') {
    const index = config.pricing.overrides.findIndex(
      (o) =>
        globToRegExp(o.model).test(model) && (o.provider === undefined || o.provider === provider),
    );
    lines.push(`source    price override pricing.overrides[${index}] in ${config.source}`);
  } else {
    lines.push(
      `source    catalog ${catalogVersion()}, ${config.pricing.catalog === 'bundled' ? 'bundled data' : config.pricing.catalog}: ${probe.catalogProvider}/${probe.catalogModel}`,
    );
  }
  lines.push(
    `per 1M    input ${perMtok({ input: 1000 })}, cached input ${perMtok({ cacheRead: 1000 })}, cache write ${perMtok({ cacheWrite: 1000 })}, output ${perMtok({ output: 1000 })}`,
  );
  if (opts.tokens !== undefined) {
    const u = parseTokens(opts.tokens);
    const cost = book.price(provider, model, u);
    lines.push(
      `usage     ${count(u.input)} input, ${count(u.output)} output, ${count(u.cacheRead)} cached, ${count(u.cacheWrite)} cache write`,
      `cost      ${usd(cost.usd)}`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Registers `prices` on the program. */
export function registerPrices(program: Command): void {
  program
    .command('prices')
    .description(
      'the price tokenfuse applies to a model, where it comes from, and what a usage costs',
    )
    .argument('<model>', 'model name, as a call names it (e.g. gpt-4.1)')
    .option(
      '--provider <id>',
      'provider id (built in, or declared under providers in the config)',
      'openai',
    )
    .option(
      '--tokens <counts>',
      'usage to price: INPUT:OUTPUT[:CACHED[:CACHE_WRITE]] (e.g. 1000:500:200)',
    )
    .option(
      '--config <file>',
      'config file (default: as the apps find it: TOKENFUSE_CONFIG, then tokenfuse.config.yaml)',
    )
    .action((model: string, opts: PricesOptions) => runPrices(model, opts));
}
