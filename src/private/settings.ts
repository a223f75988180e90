import { Duration, RemovalPolicy, aws_logs as logs } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import type { SecretsManagerAccess } from './network';

/** What a database decided that the parts added to it later (proxies, users) follow too. */
export interface DatabaseSettings {
  readonly logRetention: logs.RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
  readonly secretsManager: () => SecretsManagerAccess;
  /** How often secrets are rotated, when they are. */
  readonly secretRotationInterval?: Duration;
}

const SETTINGS = new WeakMap<IConstruct, DatabaseSettings>();

/** Records the settings of `database`, for the parts added to it later. */
export function recordSettings(database: IConstruct, settings: DatabaseSettings): void {
  SETTINGS.set(database, settings);
}

/** The settings of `database` (a `ServerlessLampDatabase`). */
export function settingsOf(database: IConstruct): DatabaseSettings {
  const settings = SETTINGS.get(database);
  if (!settings) throw new Error(`internal: ${database.node.path} recorded no settings`);
  return settings;
}
