/*
 * The migration engine shared by the deploy-time provider and the command
 * line. Not exported from the library's index: it is bundled into both.
 */
export * from './errors';
export * from './files';
export * from './history';
export * from './plan';
export * from './split';
export * from './engine';
export * from './directory';
