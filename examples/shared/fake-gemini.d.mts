// Type declarations for ./fake-gemini.mjs (the Gemini API half of the fake server).
// See the header comment of the .mjs file for the exact accounting rules.

/** Gemini's `usageMetadata` as the fake reports it (absent counts omitted). */
export interface GeminiUsageMetadata {
  promptTokenCount: number;
  cachedContentTokenCount?: number;
  candidatesTokenCount: number;
  toolUsePromptTokenCount?: number;
  thoughtsTokenCount?: number;
  totalTokenCount: number;
  promptTokensDetails: Array<{ modality: string; tokenCount: number }>;
  cacheTokensDetails?: Array<{ modality: string; tokenCount: number }>;
}

/** The model and method of a Gemini path (`/v1beta/models/{model}:{method}`), if it is one. */
export function geminiRoute(pathname: string): { model: string; method: string } | undefined;
/** The usageMetadata and reply words the fake produces for a generateContent request body. */
export function geminiPlan(body: unknown): {
  usage: GeminiUsageMetadata;
  words: number;
  truncated: boolean;
};
/** Google's error body (and extra headers) for an HTTP status. */
export function geminiErrorFor(status: number): { body: object; headers: Record<string, string> };
