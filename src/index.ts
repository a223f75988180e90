export * from './alarms';
export * from './errors';
export * from './monitoring';
export * from './proxy';
export * from './proxy-base';
export * from './query-handler';
export * from './serverless-lamp-database';
