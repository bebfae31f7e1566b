export { contextWithAttribution, currentAttribution, withAttribution } from './context.js';
export { readAttributionHeaders } from './headers.js';
export { resolveTags } from './resolve.js';
export { TAG_ATTRIBUTES, TAG_BAGGAGE_KEYS, TAG_HEADERS, TAG_NAMES } from './tags.js';
