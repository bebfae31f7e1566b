/** The body of a model glob's pattern (`*` matches any run of characters; all else literal). */
export function globBody(glob: string): string {
  return glob
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
}

/** Compiles a model glob, case-insensitive. */
export function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${globBody(glob)}$`, 'i');
}
