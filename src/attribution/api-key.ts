/**
 * The id of an SDK client's API key: the first 16 hex digits of an HMAC-SHA256 of
 * the key under a per-install secret. Never the key, and, unlike a plain hash, not
 * checkable against a list of candidate keys without the secret. Every process of
 * a fleet shares the secret (`apiKeys.secret`, `TOKENFUSE_API_KEY_SECRET`) so a key
 * has one id fleet-wide: in traces and as the value of budgets `per: apiKey`.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { diag } from '@opentelemetry/api';
import type { ApiKeyOwner, Tags } from '../types.js';

/** Hex digits of an id: 64 bits, no collision among any realistic number of keys. */
const ID_CHARS = 16;

/** Ids of API keys under one secret, and the owners of known ones. */
export class ApiKeyIds {
  private secret: string | undefined;

  /**
   * @param secret `apiKeys.secret`; when undefined, one is generated on first use
   *   and said once in the log (ids then change with every restart).
   * @param owners `apiKeys.owners`, by id.
   * @param relied whether ids must be stable (owners or `per: apiKey` budgets are configured):
   *   a generated secret is then a warning, otherwise an info line.
   */
  constructor(
    secret: string | undefined,
    private readonly owners: ReadonlyMap<string, ApiKeyOwner> = new Map(),
    private readonly relied = false,
  ) {
    this.secret = secret;
  }

  /** The id of `key`. */
  id(key: string): string {
    return createHmac('sha256', this.key()).update(key).digest('hex').slice(0, ID_CHARS);
  }

  /** The owner configured for an id: its name and the tags its calls are attributed to. */
  owner(id: string): { name: string | undefined; tags: Tags | undefined } | undefined {
    const owner = this.owners.get(id);
    if (owner === undefined) return undefined;
    const { name, ...tags } = owner;
    return { name, tags: Object.keys(tags).length > 0 ? tags : undefined };
  }

  private key(): string {
    if (this.secret === undefined) {
      this.secret = randomBytes(32).toString('hex');
      (this.relied ? diag.warn : diag.info)(
        `tokenfuse: no apiKeys.secret (TOKENFUSE_API_KEY_SECRET) is set; generated one for this process: ${this.secret} ` +
          '— API key ids (tokenfuse.api_key.id) change with every restart and differ between processes until every process sets the same secret.',
      );
    }
    return this.secret;
  }
}
