export * from './serverless-lamp-database';
