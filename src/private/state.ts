/*
 * The state a database shares with the parts added to it later (its users,
 * its added proxies): made once, in its constructor, at the start of the
 * access phase, and handed to each part; nothing else carries state between
 * the steps.
 */
import { CustomResource, Duration, RemovalPolicy, aws_ec2 as ec2, aws_lambda as lambda, aws_logs as logs, aws_secretsmanager as secretsmanager } from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';
import type { FunctionRuntime } from './function-runtime';
import type { SecretsManagerAccess } from './network';
import { DatabaseAuthentication } from '../database-authentication';
import type { S3Route } from '../s3-route';

/** Where the log groups of a database's parts keep their logs, and for how long. */
export interface Logging {
  readonly logRetention: logs.RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
}

/** How the secrets of a database are rotated; none when rotation is off. */
export interface Rotation {
  /** The rotation functions' security group, which the rotations of application users' secrets share. */
  readonly securityGroup: ec2.ISecurityGroup;
  /** How often secrets are rotated. */
  readonly interval?: Duration;
}

/**
 * Who may connect through a database's proxies, and how: the users declared
 * with `addUser()`, the users `grantConnect()` named, and the secrets every
 * proxy must know (with `DatabaseAuthentication.SECRETS`). These grow as the
 * parts are added.
 */
export interface Users {
  readonly authentication: DatabaseAuthentication;
  readonly masterUserThroughProxy: boolean;
  /** Declared users (their `DatabaseUser` constructs), by name. */
  readonly declared: Map<string, IConstruct>;
  /** Users the proxies' role may connect to the cluster as (end-to-end IAM). */
  readonly connectable: Set<string>;
  /** Declared users no proxy may connect as (`proxyAccess: false`). */
  readonly withoutProxy: Set<string>;
  /**
   * Gives the proxies' role `rds-db:connect` as one more user (end-to-end
   * IAM): set up with the role, called once per user in `connectable`.
   */
  allowProxyAs?: (user: string) => void;
  /** Secrets registered with every proxy (SECRETS). */
  readonly secrets: secretsmanager.ISecret[];
}

/** The provider of a database's users: a function in the VPC that CloudFormation invokes and that answers it. */
export interface UsersProvider {
  readonly serviceToken: string;
  readonly function: lambda.Function;
  /** Its network paths (security groups and their rules, the S3 route), which must exist before a user is created. */
  readonly network: IConstruct[];
  /** The retention resource, when the database outlives its stack (removal policy RETAIN or SNAPSHOT). */
  readonly retention?: CustomResource;
}

/** What a database decided, and what its later parts collect, shared between them. */
export interface DatabaseState {
  /** The database construct: the scope of the parts its users and proxies share, and the path messages name. */
  readonly scope: Construct;
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  readonly databaseName: string;
  readonly masterUsername: string;
  readonly logging: Logging;
  /** The runtime of the functions the database deploys (the handler, the users provider). */
  readonly functionRuntime: FunctionRuntime;
  /** How its functions reach Secrets Manager (made on first use). */
  readonly secretsManager: () => SecretsManagerAccess;
  /** How the subnets reach S3 (the `s3Route` prop), for the users provider's answers. */
  readonly s3Route?: S3Route;
  /**
   * The cluster outlives its stack (removal policy RETAIN or SNAPSHOT), and
   * its users with it: they are not dropped when the stack is deleted.
   */
  readonly usersOutliveStack: boolean;
  /** How secrets are rotated; none when rotation is off. */
  readonly rotation?: Rotation;
  readonly users: Users;
  /** The users provider, made with the first user. */
  usersProvider?: UsersProvider;
}

/** The state of a new database, its users' registry empty. */
export function newDatabaseState(
  decided: Omit<DatabaseState, 'users' | 'usersProvider'>,
  authentication: DatabaseAuthentication,
  masterUserThroughProxy: boolean,
): DatabaseState {
  return {
    ...decided,
    users: { authentication, masterUserThroughProxy, declared: new Map(), connectable: new Set(), withoutProxy: new Set(), secrets: [] },
  };
}
