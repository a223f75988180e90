/*
 * The handler's configuration, read from the environment once per execution
 * environment.
 */
import { ConfigError } from './errors';
import { functionNameOf } from './failure-metric';

/** Configuration, read from the environment once per execution environment. */
export interface HandlerConfig {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly region: string;
  /** Upper bound of the connect timeout, in milliseconds. */
  readonly connectTimeoutMs: number;
  /** Upper bound of the query timeout, in milliseconds. */
  readonly queryTimeoutMs: number;
  /** The `FunctionName` dimension of the failure metric. */
  readonly functionName: string;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): HandlerConfig {
  const missing = ['DB_HOST', 'DB_USER', 'DB_NAME', 'AWS_REGION'].filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new ConfigError(`missing environment variables: ${missing.join(', ')}`);
  }
  const port = Number(env.DB_PORT ?? '3306');
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(`DB_PORT must be a TCP port, got '${env.DB_PORT}'`);
  }
  return {
    host: env.DB_HOST!,
    port,
    user: env.DB_USER!,
    database: env.DB_NAME!,
    region: env.AWS_REGION!,
    connectTimeoutMs: positiveInt(env.DB_CONNECT_TIMEOUT_MS, 5000, 'DB_CONNECT_TIMEOUT_MS'),
    queryTimeoutMs: positiveInt(env.DB_QUERY_TIMEOUT_MS, 30000, 'DB_QUERY_TIMEOUT_MS'),
    functionName: functionNameOf(env),
  };
}

function positiveInt(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) {
    throw new ConfigError(`${name} must be a positive integer, got '${value}'`);
  }
  return n;
}
