import { expect } from 'vitest';

/** A sample parsed from Prometheus text exposition format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parses Prometheus text format (as served on /metrics) into samples. Lines end at
 * `\n` only: a label value may hold any other character raw (a carriage return,
 * U+2028), and its escapes (`\\`, `\"`, `\n`) are read in one pass so `\\n` is a
 * backslash then `n`.
 */
export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    // `s`: `.` must also match \r and U+2028/9, which the format allows raw in a value.
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+-?\d+)?$/s.exec(
      line,
    );
    if (!match) throw new Error(`unparseable metrics line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    const body = match[2] ?? '';
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/gs;
    for (let m = re.exec(body); m; m = re.exec(body)) {
      labels[m[1]!] = m[2]!.replace(/\\(.)/gs, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/**
 * The samples of `name` whose labels include every pair in `labels`
 * (other labels, e.g. `otel_scope_name`, are ignored).
 */
export function select(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): Sample[] {
  return samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

/** Sum of the values of the matching samples; 0 when none match. */
export function sum(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return select(samples, name, labels).reduce((acc, s) => acc + s.value, 0);
}

/** The text a /metrics endpoint serves; the test fails unless it answers 200. */
export async function scrapeText(url: string): Promise<string> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return res.text();
}

/**
 * The text without the price catalog's age, the one sample that moves between two reads of
 * the same state (with or without labels: `tokenfuse_price_catalog_age_seconds 1.7`).
 */
export const withoutCatalogAge = (text: string): string =>
  text
    .split('\n')
    .filter((line) => !line.startsWith('tokenfuse_price_catalog_age_seconds'))
    .join('\n');
