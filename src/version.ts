// Kept in step with package.json by a test: the bundled image carries no package.json to read.
export const VERSION = '0.1.0';
