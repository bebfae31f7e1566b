/** Instrumentation scope name of tokenfuse's spans and metrics. */
export const PACKAGE_NAME = 'tokenfuse';
/** Kept in step with package.json by test/package.test.ts. */
export const PACKAGE_VERSION = '0.1.0';
