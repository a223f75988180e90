import {
  Annotations, ArnFormat, CustomResource, Duration, Lazy, Stack,
  aws_iam as iam, aws_lambda as lambda, aws_logs as logs, aws_rds as rds,
  aws_secretsmanager as secretsmanager,
} from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';
import { acknowledgeProvider } from './acknowledgments';
import { rotateSingleUser } from './cluster';
import { ServerlessLampValidationError } from './errors';
import { acknowledgeFunctionRuntime } from './function-runtime';
import { MYSQL_PORT, withLiteralPort } from './mysql';
import { allowS3, allowSecretsManager, closedSecurityGroup } from './network';
import { settingsOf } from './settings';
import { DatabaseAuthentication } from '../database-authentication';
import type { DatabaseUserProps } from '../database-user';
import { RETENTION_RESOURCE_TYPE } from '../provider/properties';
import { UsersFunction } from '../provider/users-function';
import type { ServerlessLampDatabase } from '../serverless-lamp-database';
import type { ServerlessLampDatabaseProps } from '../serverless-lamp-database-props';

/**
 * Who may connect through a database's proxies, and how: the users declared
 * with `addUser()`, the users `grantConnect()` named, and the secrets every
 * proxy must know (with `DatabaseAuthentication.SECRETS`).
 */
interface Users {
  readonly authentication: DatabaseAuthentication;
  readonly masterUserThroughProxy: boolean;
  /** Declared users (their `DatabaseUser` constructs), by name. */
  readonly declared: Map<string, IConstruct>;
  /** Users the proxies' role may connect to the cluster as (end-to-end IAM). */
  readonly connectable: Set<string>;
  /** Secrets registered with every proxy (SECRETS). */
  readonly secrets: secretsmanager.ISecret[];
}

const USERS = new WeakMap<IConstruct, Users>();
/** The database each proxy front (ServerlessLampDatabase or ApplicationProxy) belongs to. */
const DATABASE_OF = new WeakMap<IConstruct, ServerlessLampDatabase>();

function usersOf(database: IConstruct): Users {
  const users = USERS.get(database);
  if (!users) throw new Error(`internal: ${database.node.path} has no users registry`);
  return users;
}

/** The database `front` (a ServerlessLampDatabase or one of its ApplicationProxy) belongs to. */
export function databaseOf(front: IConstruct): ServerlessLampDatabase {
  const database = DATABASE_OF.get(front);
  if (!database) throw new Error(`internal: ${front.node.path} belongs to no database`);
  return database;
}

/** Records the database `front` (a ServerlessLampDatabase or one of its ApplicationProxy) belongs to. */
export function recordFront(front: IConstruct, database: ServerlessLampDatabase): void {
  DATABASE_OF.set(front, database);
}

/**
 * Sets up how a database's users authenticate, and returns the role of its
 * proxies (the one given, or a new one). With end-to-end IAM, that role gets
 * `rds-db:connect` on the cluster (its resource id) as exactly the users
 * declared or granted, a list that grows as they are.
 */
export function setUpUsers(database: ServerlessLampDatabase, props: ServerlessLampDatabaseProps): iam.IRole {
  const authentication = props.authentication ?? DatabaseAuthentication.IAM;
  const masterUserThroughProxy = props.masterUserThroughProxy ?? false;
  const role = props.proxyRole ?? new iam.Role(database, 'ProxyRole', {
    assumedBy: new iam.ServicePrincipal('rds.amazonaws.com'),
    description: authentication === DatabaseAuthentication.IAM
      ? 'Lets the RDS Proxy connect to the cluster as the application users (end-to-end IAM)'
      : 'Lets the RDS Proxy read the application users\' secrets',
  });
  recordFront(database, database);
  if (masterUserThroughProxy && authentication === DatabaseAuthentication.IAM) {
    throw new ServerlessLampValidationError(
      'masterUserThroughProxy (true) needs authentication DatabaseAuthentication.SECRETS: with end-to-end IAM the proxy ' +
        'has no password for the master user, which logs in with its password',
    );
  }
  const users: Users = { authentication, masterUserThroughProxy, declared: new Map(), connectable: new Set(), secrets: [] };
  USERS.set(database, users);
  if (masterUserThroughProxy) {
    users.secrets.push(database.secret);
    Annotations.of(database).addWarningV2('serverless-lamp:master-user-through-proxy',
      'masterUserThroughProxy is on: functions granted the master user through a proxy hold the database\'s administrator ' +
        '(CREATE USER, DROP, GRANT). Prefer application users (addUser)');
  }
  if (authentication !== DatabaseAuthentication.IAM) return role;
  const stack = Stack.of(database);
  const added = role.addToPrincipalPolicy(new iam.PolicyStatement({
    actions: ['rds-db:connect'],
    resources: Lazy.list({
      produce: () => [...users.connectable].sort().map((user) => stack.formatArn({
        service: 'rds-db',
        resource: 'dbuser',
        resourceName: `${database.cluster.clusterResourceIdentifier}/${user}`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      })),
    }),
  })).statementAdded;
  if (!added) {
    Annotations.of(database).addWarningV2('serverless-lamp:proxy-role-policy',
      `proxyRole ${role.node.path} is imported, so it cannot be given rds-db:connect here: allow it rds-db:connect on ` +
        'arn:<partition>:rds-db:<region>:<account>:dbuser:<cluster resource id>/<user> for each application user, ' +
        'or the proxy cannot reach the database (end-to-end IAM)');
  }
  return role;
}

/** How a new proxy authenticates to the cluster: `defaultAuthScheme` and its initial secrets. */
export function proxyAuthentication(
  database: ServerlessLampDatabase,
): { defaultAuthScheme?: rds.DefaultAuthScheme; secrets?: secretsmanager.ISecret[] } {
  const users = usersOf(database);
  return users.authentication === DatabaseAuthentication.IAM
    ? { defaultAuthScheme: rds.DefaultAuthScheme.IAM_AUTH }
    : { secrets: users.secrets.slice(0, 1) };
}

/**
 * With secrets, a proxy knows every user's secret, including those declared
 * after it: its `Auth` list is written at synth time.
 */
export function registerProxySecrets(database: ServerlessLampDatabase, proxy: rds.DatabaseProxy): void {
  const users = usersOf(database);
  if (users.authentication === DatabaseAuthentication.IAM) return;
  (proxy.node.defaultChild as rds.CfnDBProxy).auth = Lazy.any({
    produce: () => users.secrets.map((secret) => ({ authScheme: 'SECRETS', iamAuth: 'REQUIRED', secretArn: secret.secretArn })),
  });
}

/**
 * Before `grantConnect(grantee, user)` through a proxy of `front`'s database:
 * the user must be one the proxy can reach the database as. With end-to-end
 * IAM, a user created by hand is added to those the proxies' role may connect
 * as; with secrets, the user needs a registered secret.
 */
export function prepareConnect(front: IConstruct, user: string): void {
  const database = databaseOf(front);
  const users = usersOf(database);
  const isMaster = user.toLowerCase() === database.masterUsername.toLowerCase();
  if (isMaster && !users.masterUserThroughProxy) {
    throw new ServerlessLampValidationError(
      `grantConnect: dbUser ('${user}') is the master user, which no proxy admits by default: applications connect as ` +
        'application users (addUser). To connect as the master user anyway, use authentication ' +
        'DatabaseAuthentication.SECRETS with masterUserThroughProxy: true',
    );
  }
  if (users.authentication === DatabaseAuthentication.IAM) {
    users.connectable.add(user);
  } else if (!isMaster && !users.declared.has(user)) {
    throw new ServerlessLampValidationError(
      `grantConnect: dbUser ('${user}') has no secret registered with the proxies: declare it with addUser('${user}', ...)`,
    );
  }
}

/**
 * The `DatabaseUser` construct of `userName` in `front`'s database, when the
 * user is declared there: functions that connect as it depend on it, so that
 * none runs before its user exists or after it was dropped.
 */
export function declaredUser(front: IConstruct, userName: string): IConstruct | undefined {
  return usersOf(databaseOf(front)).declared.get(userName);
}

/** What `DatabaseUser` needs to create its custom resource. */
export interface DeclaredUser {
  readonly serviceToken: string;
  /**
   * The retention resource, which must depend on the user's resource so that
   * CloudFormation deletes it first; none when the database goes with its stack.
   */
  readonly retention?: IConstruct;
  readonly properties: Record<string, string>;
  readonly dependencies: IConstruct[];
  readonly secret?: secretsmanager.ISecret;
}

/** Registers a declared user, with its secret and that secret's rotation when the database uses secrets. */
export function declareUser(
  scope: Construct,
  props: DatabaseUserProps,
  grants: Array<{ Privileges: string[]; Table?: string }>,
): DeclaredUser {
  const database = props.database;
  const users = usersOf(database);
  if (users.declared.has(props.userName)) {
    throw new ServerlessLampValidationError(`userName ('${props.userName}') is declared twice in ${database.node.path}`);
  }
  users.declared.set(props.userName, scope);
  const provider = usersProvider(database);
  const properties: Record<string, string> = {
    SecretArn: database.secret.secretArn,
    Host: database.cluster.clusterEndpoint.hostname,
    Port: String(MYSQL_PORT),
    UserName: props.userName,
    Database: database.databaseName,
    Grants: JSON.stringify(grants),
    Authentication: users.authentication === DatabaseAuthentication.IAM ? 'IAM' : 'PASSWORD',
  };
  // The writer must be available (the cluster itself is referenced by Host),
  // and the provider's network rules in place.
  const dependencies: IConstruct[] = [
    ...database.cluster.node.findAll().filter((c) => c instanceof rds.CfnDBInstance),
    ...provider.network,
  ];
  if (users.authentication === DatabaseAuthentication.IAM) {
    users.connectable.add(props.userName);
    return { serviceToken: provider.serviceToken, retention: provider.retention, properties, dependencies };
  }
  const secret = userSecret(scope, database, props.userName);
  users.secrets.push(secret);
  secret.grantRead(database.proxyRole);
  secret.grantRead(provider.function);
  return {
    serviceToken: provider.serviceToken,
    retention: provider.retention,
    properties: { ...properties, PasswordSecretArn: secret.secretArn },
    dependencies,
    secret,
  };
}

/** A generated secret for one user, attached to the cluster and rotated like the master's. */
function userSecret(scope: Construct, database: ServerlessLampDatabase, userName: string): secretsmanager.ISecret {
  const generated = new rds.DatabaseSecret(scope, 'Secret', {
    username: userName,
    dbname: database.databaseName,
    encryptionKey: database.encryptionKey,
  });
  const attached = generated.attach(database.cluster);
  const settings = settingsOf(database);
  if (!settings.rotationSecurityGroup) return attached; // rotation is off
  rotateSingleUser(scope, 'Rotation', attached, database.cluster, {
    vpc: database.vpc,
    vpcSubnets: database.vpcSubnets,
    secretsManager: settings.secretsManager(),
    interval: settings.secretRotationInterval,
    securityGroup: settings.rotationSecurityGroup,
  });
  return attached;
}

/** The provider of a database's users: a function in the VPC that CloudFormation invokes and that answers it. */
interface UsersProvider {
  readonly serviceToken: string;
  readonly function: lambda.Function;
  /** Its network paths (security groups and their rules, the S3 route), which must exist before a user is created. */
  readonly network: IConstruct[];
  /** The retention resource, when the database outlives its stack (removal policy RETAIN or SNAPSHOT). */
  readonly retention?: CustomResource;
}

const PROVIDERS = new WeakMap<IConstruct, UsersProvider>();

/**
 * How long CloudFormation waits for the provider's answer. The function
 * answers within its own 5 minutes (a watchdog answers FAILED shortly before
 * they run out), so an answer that has not come by then will not come.
 */
export const PROVIDER_SERVICE_TIMEOUT = Duration.minutes(10);

/**
 * The users provider of `database`, created with the first user.
 *
 * Its function runs in the database's subnets: it reads the master secret
 * (through the Secrets Manager endpoint, or the subnets' NAT), connects
 * straight to the cluster on 3306, and answers CloudFormation at the request's
 * presigned S3 URL (through an S3 gateway endpoint, or the NAT). No function
 * runs outside the VPC: the custom resource framework would need one.
 */
export function usersProvider(database: ServerlessLampDatabase): UsersProvider {
  const existing = PROVIDERS.get(database);
  if (existing) return existing;
  const settings = settingsOf(database);
  const access = settings.secretsManager();
  const securityGroup = closedSecurityGroup(database, 'UsersSecurityGroup', database.vpc,
    'Database users provider: no inbound, outbound only to the cluster and Secrets Manager');
  withLiteralPort(database.cluster).connections.allowDefaultPortFrom(securityGroup, 'Database users provider to the cluster');
  allowSecretsManager(access, securityGroup, 'Database users provider to Secrets Manager');
  // CloudFormation's answer URL (an S3 bucket of the Region): through the
  // subnets' S3 gateway endpoint, or their NAT; allowed to S3's prefix list
  // where the stack's environment is concrete, else to any address on 443
  // (see allowS3).
  const s3Endpoint = allowS3(database, securityGroup, settings.s3Route);
  const role = new iam.Role(database, 'UsersRole', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: 'Serverless LAMP database users provider: VPC networking, logs, the master secret',
    managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole')],
  });
  const fn = new UsersFunction(database, 'UsersFunction', {
    description: 'Serverless LAMP: creates, changes and drops application database users',
    runtime: settings.functionRuntime.runtime,
    role,
    vpc: database.vpc,
    vpcSubnets: database.vpcSubnets,
    securityGroups: [securityGroup],
    architecture: lambda.Architecture.ARM_64,
    memorySize: 256,
    // Long enough to wait for a writer that is still coming up; the function
    // keeps time to answer CloudFormation before it runs out.
    timeout: Duration.minutes(5),
    // CloudFormation invokes it asynchronously; it answers every request
    // itself, so a retry could only answer twice.
    retryAttempts: 0,
    tracing: lambda.Tracing.ACTIVE,
    logGroup: new logs.LogGroup(database, 'UsersFunctionLogs', {
      retention: settings.logRetention,
      encryptionKey: database.encryptionKey,
      removalPolicy: settings.logRemovalPolicy,
    }),
    environment: access.url ? { SECRETS_MANAGER_ENDPOINT: access.url } : {},
  });
  database.secret.grantRead(fn);
  acknowledgeProvider(fn, role);
  acknowledgeFunctionRuntime(fn, settings.functionRuntime);
  // Every path the function takes must exist before a user is created: its own
  // group's rules, the rules into the cluster's and the endpoint's groups (their
  // children), the route to S3.
  const network: IConstruct[] = [
    securityGroup,
    ...database.cluster.connections.securityGroups,
    ...(access.endpoint?.connections.securityGroups ?? []),
    ...(s3Endpoint ? [s3Endpoint] : []),
  ];
  const retention = settings.usersOutliveStack ? retentionResource(database, fn.functionArn, network) : undefined;
  const provider = { serviceToken: fn.functionArn, function: fn, network, retention };
  PROVIDERS.set(database, provider);
  return provider;
}

/**
 * With removal policy RETAIN or SNAPSHOT the database outlives its stack, and
 * so must its users: the final snapshot, or the retained cluster, has them.
 * This resource depends on every user resource, so CloudFormation deletes it
 * before any of them when the stack (or this construct) goes; its Delete
 * records that in the cluster, and the users' Deletes that follow keep their
 * accounts. Removing one user from the code still drops that user: only this
 * resource's Delete says the whole database is leaving.
 */
function retentionResource(database: ServerlessLampDatabase, serviceToken: string, network: IConstruct[]): CustomResource {
  const resource = new CustomResource(database, 'UsersRetention', {
    serviceToken,
    resourceType: RETENTION_RESOURCE_TYPE,
    properties: {
      SecretArn: database.secret.secretArn,
      Host: database.cluster.clusterEndpoint.hostname,
      Port: String(MYSQL_PORT),
    },
    serviceTimeout: PROVIDER_SERVICE_TIMEOUT,
  });
  resource.node.addDependency(...network);
  return resource;
}
