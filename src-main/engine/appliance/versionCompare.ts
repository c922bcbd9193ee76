// The brief named this module versionCompare.ts; the code lives in the kebab-case file like the rest.
export { checkVersion, type VersionPolicy } from './version-compare.js';
