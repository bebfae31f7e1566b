// Type declarations for ./fake-anthropic.mjs (the Anthropic Messages half of the fake server).
// See the header comment of the .mjs file for the exact accounting rules.

/** Anthropic's `usage` block as the fake reports it. */
export interface AnthropicUsage {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
  output_tokens: number;
  server_tool_use: null;
  service_tier: 'standard';
}

/** Prompt tokens of a Messages request before the split into cache reads and writes. */
export function anthropicPromptTokens(body: unknown): number;
/** The usage, thinking tokens and reply words the fake produces for a Messages request. */
export function anthropicPlan(body: unknown): {
  usage: AnthropicUsage;
  thinking: number;
  words: number;
  truncated: boolean;
};
/** Anthropic's error body (and extra headers) for an HTTP status. */
export function anthropicErrorFor(
  status: number,
  requestId: string,
): { body: object; headers: Record<string, string> };
