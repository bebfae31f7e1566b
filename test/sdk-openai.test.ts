// The shared behaviour suite (test/sdk/behaviour.ts) for every openai major installed
// side by side, and the AzureOpenAI client.
import { behaviourSuite } from './sdk/behaviour.js';
import { type OpenAIModule, openaiDriver } from './sdk/openai-driver.js';

const MAJORS: OpenAIModule[] = ['openai-v4', 'openai-v5', 'openai-v6', 'openai'];

for (const module of MAJORS) behaviourSuite(openaiDriver({ module, api: 'chat' }));
for (const module of MAJORS) behaviourSuite(openaiDriver({ module, api: 'responses' }));
behaviourSuite(openaiDriver({ module: 'openai', api: 'chat', azure: true }));
