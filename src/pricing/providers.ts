/**
 * Which provider a client talks to, decided from its base URL. The OpenAI SDK is
 * used against many OpenAI-compatible endpoints, so the host is the only
 * reliable signal; the id found here labels metrics and selects prices.
 */
import type { ProviderDeclaration } from '../types.js';

/** A provider as tokenfuse labels it. */
export interface ProviderInfo {
  /** Our provider id: the `provider` metric label and the key of price overrides. */
  id: string;
  /**
   * Value for the `gen_ai.provider.name` span attribute: the semconv well-known
   * value when one exists ({@link GEN_AI_PROVIDER_NAMES}), else `id`.
   */
  semconvName: string;
  /** `server.address`: the base URL's host name. Absent when the URL is unusable. */
  serverAddress?: string;
  /** `server.port`: the explicit port, else 443 for https and 80 for http. */
  serverPort?: number;
}

/** A provider tokenfuse knows without configuration. */
export interface BuiltinProvider {
  id: string;
  /**
   * `gen_ai.provider.name` when it is not the table's for `id`
   * ({@link GEN_AI_PROVIDER_NAMES}): one catalog provider, several services (Vertex AI).
   */
  semconvName?: string;
  /** Provider id in the `@pydantic/genai-prices` catalog. */
  catalogId: string;
  /** Exact host names. */
  hosts: readonly string[];
  /** Host name suffixes (with the leading dot) for per-tenant hosts such as Azure's. */
  hostSuffixes?: readonly string[];
}

/**
 * The one table from a provider id (the `provider` metric label: built-in or
 * declared) to its semconv `gen_ai.provider.name` well-known value (OpenTelemetry
 * GenAI registry). An id not in it is its own name.
 */
export const GEN_AI_PROVIDER_NAMES: Readonly<Record<string, string>> = {
  openai: 'openai',
  azure: 'azure.ai.openai',
  'azure-inference': 'azure.ai.inference',
  anthropic: 'anthropic',
  google: 'gcp.gemini',
  'google-vertex': 'gcp.vertex_ai',
  aws: 'aws.bedrock',
  bedrock: 'aws.bedrock',
  deepseek: 'deepseek',
  xai: 'x_ai',
  mistral: 'mistral_ai',
  groq: 'groq',
  perplexity: 'perplexity',
  cohere: 'cohere',
  ibm: 'ibm.watsonx.ai',
};

/** The `gen_ai.provider.name` of a provider id: its well-known value, else the id. */
export function genAiProviderName(id: string): string {
  return GEN_AI_PROVIDER_NAMES[id] ?? id;
}

/**
 * The built-in host table. Catalog ids were checked against the bundled data of
 * `@pydantic/genai-prices` 0.1.8 (`x-ai` is the catalog's spelling for xAI).
 */
export const BUILTIN_PROVIDERS: readonly BuiltinProvider[] = [
  { id: 'openai', catalogId: 'openai', hosts: ['api.openai.com'] },
  {
    id: 'azure',
    catalogId: 'azure',
    hosts: [],
    hostSuffixes: ['.openai.azure.com', '.cognitiveservices.azure.com', '.services.ai.azure.com'],
  },
  { id: 'deepseek', catalogId: 'deepseek', hosts: ['api.deepseek.com'] },
  // Gemini's OpenAI-compatible endpoint lives under /v1beta/openai on this host.
  {
    id: 'google',
    catalogId: 'google',
    hosts: ['generativelanguage.googleapis.com'],
  },
  // Vertex AI: the same catalog prices, another service (`{location}-aiplatform...`).
  {
    id: 'google',
    semconvName: GEN_AI_PROVIDER_NAMES['google-vertex'],
    catalogId: 'google',
    hosts: ['aiplatform.googleapis.com'],
    hostSuffixes: ['-aiplatform.googleapis.com'],
  },
  {
    id: 'openrouter',
    catalogId: 'openrouter',
    hosts: ['openrouter.ai'],
  },
  {
    id: 'anthropic',
    catalogId: 'anthropic',
    hosts: ['api.anthropic.com'],
  },
  { id: 'groq', catalogId: 'groq', hosts: ['api.groq.com'] },
  // Reached through the AWS SDK only, whatever its endpoint (the Bedrock adapter names it).
  { id: 'bedrock', catalogId: 'aws', hosts: [] },
  { id: 'mistral', catalogId: 'mistral', hosts: ['api.mistral.ai'] },
  { id: 'xai', catalogId: 'x-ai', hosts: ['api.x.ai'] },
  { id: 'together', catalogId: 'together', hosts: ['api.together.xyz'] },
  {
    id: 'fireworks',
    catalogId: 'fireworks',
    hosts: ['api.fireworks.ai'],
  },
  {
    id: 'perplexity',
    catalogId: 'perplexity',
    hosts: ['api.perplexity.ai'],
  },
];

/** The id of any endpoint neither the table nor the configuration knows. */
export const OPENAI_COMPATIBLE = 'openai_compatible';

// The openai SDK falls back to this when no base URL is given, so a client
// without one is talking to OpenAI.
const DEFAULT_BASE_URL = 'https://api.openai.com/v1';

// Base URLs come from client construction, so there are few; the cap only
// guards against a process that builds clients from unbounded input.
const MAX_CACHED_URLS = 1000;

const DEFAULT_PORTS: Record<string, number> = { 'https:': 443, 'http:': 80 };

function builtinFor(hostname: string): BuiltinProvider | undefined {
  return BUILTIN_PROVIDERS.find(
    (p) => p.hosts.includes(hostname) || (p.hostSuffixes ?? []).some((s) => hostname.endsWith(s)),
  );
}

/** Lowercases a configured host and drops IPv6 brackets so it compares with URL host names. */
function normalizeHost(host: string): string {
  return host
    .trim()
    .toLowerCase()
    .replace(/^\[([^\]]*)\]/, '$1');
}

/**
 * Creates the base URL → provider function used for every SDK client.
 *
 * Declared providers win over the built-in table and may name a `host` or a
 * `host:port` (the port compared is the explicit one, else the scheme's
 * default). A host neither declared nor built in is {@link OPENAI_COMPATIBLE} (an
 * SDK adapter may name the provider its client implies instead: `SdkClient.provider`); a malformed URL is too,
 * without a server address. An undefined base URL means the SDK default
 * (api.openai.com). Results are cached per base URL string and frozen.
 */
export function createProviderResolver(
  declared: ProviderDeclaration[],
): (baseURL: string | undefined) => ProviderInfo {
  const declaredHosts = new Map<string, string>();
  for (const provider of declared) {
    for (const host of provider.hosts) {
      const key = normalizeHost(host);
      // First declaration of a host wins, matching the config's reading order.
      if (!declaredHosts.has(key)) declaredHosts.set(key, provider.id);
    }
  }

  const resolve = (baseURL: string): ProviderInfo => {
    let url: URL;
    try {
      url = new URL(baseURL);
    } catch {
      return { id: OPENAI_COMPATIBLE, semconvName: OPENAI_COMPATIBLE };
    }
    // URL keeps IPv6 brackets and a trailing root dot; semconv wants the bare name.
    const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
    const port = url.port ? Number(url.port) : DEFAULT_PORTS[url.protocol];
    const info = (id: string, semconvName: string): ProviderInfo => {
      const out: ProviderInfo = { id, semconvName };
      if (hostname) out.serverAddress = hostname;
      if (port !== undefined) out.serverPort = port;
      return out;
    };

    const declaredId =
      (port !== undefined ? declaredHosts.get(`${hostname}:${port}`) : undefined) ??
      declaredHosts.get(hostname);
    if (declaredId !== undefined) return info(declaredId, genAiProviderName(declaredId));

    const builtin = builtinFor(hostname);
    if (builtin) return info(builtin.id, builtin.semconvName ?? genAiProviderName(builtin.id));
    return info(OPENAI_COMPATIBLE, OPENAI_COMPATIBLE);
  };

  const cache = new Map<string, ProviderInfo>();
  return (baseURL) => {
    const url = baseURL ?? DEFAULT_BASE_URL;
    let info = cache.get(url);
    if (info === undefined) {
      info = Object.freeze(resolve(url));
      if (cache.size >= MAX_CACHED_URLS) cache.delete(cache.keys().next().value as string);
      cache.set(url, info);
    }
    return info;
  };
}
