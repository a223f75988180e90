import { Duration, RemovalPolicy, aws_ec2 as ec2, aws_logs as logs } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import type { FunctionRuntime } from './function-runtime';
import type { SecretsManagerAccess } from './network';
import type { S3Route } from '../s3-route';

/** What a database decided that the parts added to it later (proxies, users) follow too. */
export interface DatabaseSettings {
  readonly logRetention: logs.RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
  /** The runtime of the functions the database deploys (the handler, the users provider). */
  readonly functionRuntime: FunctionRuntime;
  readonly secretsManager: () => SecretsManagerAccess;
  /**
   * The cluster outlives its stack (removal policy RETAIN or SNAPSHOT), and
   * its users with it: they are not dropped when the stack is deleted.
   */
  readonly usersOutliveStack: boolean;
  /** How often secrets are rotated, when they are. */
  readonly secretRotationInterval?: Duration;
  /** How the subnets reach S3 (the `s3Route` prop), for the users provider's answers. */
  readonly s3Route?: S3Route;
  /** The rotation functions' security group; none when rotation is off. */
  rotationSecurityGroup?: ec2.ISecurityGroup;
}

const SETTINGS = new WeakMap<IConstruct, DatabaseSettings>();

/** Records the settings of `database`, for the parts added to it later. */
export function recordSettings(database: IConstruct, settings: DatabaseSettings): DatabaseSettings {
  SETTINGS.set(database, settings);
  return settings;
}

/** The settings of `database` (a `ServerlessLampDatabase`). */
export function settingsOf(database: IConstruct): DatabaseSettings {
  const settings = SETTINGS.get(database);
  if (!settings) throw new Error(`internal: ${database.node.path} recorded no settings`);
  return settings;
}
