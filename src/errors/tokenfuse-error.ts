/**
 * Base class of every error tokenfuse throws on purpose. Each subclass sets
 * `name` and builds a message that carries the values a reader needs.
 */
export class TokenfuseError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TokenfuseError';
  }
}
