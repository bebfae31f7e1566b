// The one policy for URLs in errors and log lines (src/errors/redact.ts): scheme,
// host and port stay; a password, the query and the fragment never show; a lone
// username is hidden too; the path is masked, kept or omitted as the caller says.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { diag } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { redactSecrets, redactUrl } from '../src/errors/redact.js';
import { PriceCatalog } from '../src/pricing/price-catalog.js';
import { captureDiag } from './helpers/diag.js';

const SECRETS = ['pw123', 'TOKEN123', 'SIGNATURE', 'FRAGMENT', 'hunter2'];

describe('redactUrl', () => {
  const cases: Array<[url: string, masked: string, kept: string, omitted: string]> = [
    [
      'https://user:pw123@hooks.example:8443/T0/B0/TOKEN123?sig=SIGNATURE#FRAGMENT',
      'https://user:***@hooks.example:8443/***?***#***',
      'https://user:***@hooks.example:8443/T0/B0/TOKEN123?***#***',
      'https://hooks.example:8443',
    ],
    [
      'https://TOKEN123@prices.example/v2/data.json',
      'https://***@prices.example/***',
      'https://***@prices.example/v2/data.json',
      'https://prices.example',
    ],
    [
      'redis://:hunter2@cache.internal:6379/0',
      'redis://:***@cache.internal:6379/0',
      'redis://:***@cache.internal:6379/0',
      'redis://cache.internal:6379',
    ],
    [
      'http://127.0.0.1:9090',
      'http://127.0.0.1:9090',
      'http://127.0.0.1:9090',
      'http://127.0.0.1:9090',
    ],
    [
      'https://host.example?sig=SIGNATURE',
      'https://host.example?***',
      'https://host.example?***',
      'https://host.example',
    ],
    // Not parseable by URL (a bad IPv6 host): read by pattern, with the same rules.
    [
      'http://user:pw123@[bad/v2/data.json?sig=SIGNATURE',
      'http://user:***@[bad/***?***',
      'http://user:***@[bad/v2/data.json?***',
      'http://[bad',
    ],
  ];

  it.each(cases)('%s', (url, masked, kept, omitted) => {
    expect([redactUrl(url), redactUrl(url, 'kept'), redactUrl(url, 'omitted')]).toEqual([
      masked,
      kept,
      omitted,
    ]);
    // A kept path is shown as it is: only callers whose paths name a resource (a
    // catalog file) keep it, never one whose path may be its token (a webhook).
    for (const shown of [masked, omitted]) {
      for (const secret of SECRETS) expect(shown).not.toContain(secret);
    }
  });

  it('shows nothing of a value that is no URL', () => {
    expect(redactUrl('not a url at all')).toBe('***');
  });

  it('is what error text applies to every URL in it', () => {
    expect(redactSecrets('see https://TOKEN123@hooks.example/T0?x=1.')).toBe(
      'see https://***@hooks.example/***?***.',
    );
  });
});

describe('a price catalog URL in a log line', () => {
  let server: Server | undefined;
  afterEach(async () => {
    diag.disable();
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  });

  it('keeps its path and hides its credentials, query and fragment', async () => {
    server = createServer((_req, res) => {
      res.writeHead(500);
      res.end();
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const logs = captureDiag();
    const catalog = new PriceCatalog({
      source: `http://reader:pw123@127.0.0.1:${port}/v2/data.json?sig=SIGNATURE#FRAGMENT`,
      apply: () => {},
    });
    expect(await catalog.ready).toBe(false);
    const shown = `http://reader:***@127.0.0.1:${port}/v2/data.json?***#***`;
    expect(catalog.source).toBe(shown);
    expect(logs).toEqual([
      `tokenfuse: cannot load the price catalog ${shown} (HTTP 500); the prices in use are kept; failures are counted in tokenfuse_price_catalog_errors_total`,
    ]);
  });
});
