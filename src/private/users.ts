import {
  Annotations, ArnFormat, CustomResource, Duration, Lazy, Stack,
  aws_iam as iam, aws_kms as kms, aws_lambda as lambda, aws_logs as logs, aws_rds as rds,
  aws_secretsmanager as secretsmanager,
} from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';
import { acknowledgeProvider } from './acknowledgments';
import { rotateSingleUser } from './cluster';
import { ServerlessLampValidationError } from './errors';
import { acknowledgeFunctionRuntime } from './function-runtime';
import { MYSQL_PORT, withLiteralPort } from './mysql';
import { allowS3, allowSecretsManager, closedSecurityGroup } from './network';
import type { DatabaseState, Users, UsersProvider } from './state';
import { DatabaseAuthentication } from '../database-authentication';
import { RETENTION_RESOURCE_TYPE } from '../provider/properties';
import { UsersFunction } from '../provider/users-function';

/**
 * Sets up how a database's users authenticate (recorded in `state.users`),
 * and returns the role of its proxies (the one given, or a new one). With
 * end-to-end IAM, that role gets `rds-db:connect` on the cluster (its resource
 * id) as exactly the users declared or granted, a list that grows as they are.
 */
export function setUpUsers(
  state: DatabaseState,
  p: { readonly proxyRole?: iam.IRole; readonly cluster: rds.DatabaseCluster; readonly secret: secretsmanager.ISecret },
): iam.IRole {
  const database = state.scope;
  const users = state.users;
  const { authentication, masterUserThroughProxy } = users;
  const role = p.proxyRole ?? new iam.Role(database, 'ProxyRole', {
    assumedBy: new iam.ServicePrincipal('rds.amazonaws.com'),
    description: authentication === DatabaseAuthentication.IAM
      ? 'Lets the RDS Proxy connect to the cluster as the application users (end-to-end IAM)'
      : 'Lets the RDS Proxy read the application users\' secrets',
  });
  if (masterUserThroughProxy && authentication === DatabaseAuthentication.IAM) {
    throw new ServerlessLampValidationError(
      'masterUserThroughProxy (true) needs authentication DatabaseAuthentication.SECRETS: with end-to-end IAM the proxy ' +
        'has no password for the master user, which logs in with its password',
    );
  }
  if (masterUserThroughProxy) {
    users.secrets.push(p.secret);
    Annotations.of(database).addWarningV2('serverless-lamp:master-user-through-proxy',
      'masterUserThroughProxy is on: functions granted the master user through a proxy hold the database\'s administrator ' +
        '(CREATE USER, DROP, GRANT). Prefer application users (addUser)');
  }
  if (authentication !== DatabaseAuthentication.IAM) return role;
  const stack = Stack.of(database);
  // One statement per user rather than one growing list: aws-cdk-lib's Role
  // moves whole statements into managed policies (OverflowPolicy1, ...) when
  // its inline policy would pass IAM's 10,240 characters, so the proxy can be
  // given hundreds of users by name, and none it should not have.
  const allow = (user: string) => role.addToPrincipalPolicy(new iam.PolicyStatement({
    actions: ['rds-db:connect'],
    resources: [stack.formatArn({
      service: 'rds-db',
      resource: 'dbuser',
      resourceName: `${p.cluster.clusterResourceIdentifier}/${user}`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    })],
  })).statementAdded;
  let warned = false;
  users.allowProxyAs = (user) => {
    if (!allow(user) && !warned) {
      warned = true;
      Annotations.of(database).addWarningV2('serverless-lamp:proxy-role-policy',
        `proxyRole ${role.node.path} is imported, so it cannot be given rds-db:connect here: allow it rds-db:connect on ` +
          'arn:<partition>:rds-db:<region>:<account>:dbuser:<cluster resource id>/<user> for each application user, ' +
          'or the proxy cannot reach the database (end-to-end IAM)');
    }
  };
  return role;
}

/** How a new proxy authenticates to the cluster: `defaultAuthScheme` and its initial secrets. */
export function proxyAuthentication(
  users: Users,
): { defaultAuthScheme?: rds.DefaultAuthScheme; secrets?: secretsmanager.ISecret[] } {
  return users.authentication === DatabaseAuthentication.IAM
    ? { defaultAuthScheme: rds.DefaultAuthScheme.IAM_AUTH }
    : { secrets: users.secrets.slice(0, 1) };
}

/**
 * With secrets, a proxy knows every user's secret, including those declared
 * after it: its `Auth` list is written at synth time.
 */
export function registerProxySecrets(users: Users, proxy: rds.DatabaseProxy): void {
  if (users.authentication === DatabaseAuthentication.IAM) return;
  (proxy.node.defaultChild as rds.CfnDBProxy).auth = Lazy.any({
    produce: () => users.secrets.map((secret) => ({ authScheme: 'SECRETS', iamAuth: 'REQUIRED', secretArn: secret.secretArn })),
  });
}

/**
 * Before `grantConnect(grantee, user)` through a proxy of the database: the
 * user must be one the proxy can reach the database as. With end-to-end IAM,
 * a user created by hand is added to those the proxies' role may connect as;
 * with secrets, the user needs a registered secret.
 */
export function prepareConnect(users: Users, masterUsername: string, user: string): void {
  const isMaster = user.toLowerCase() === masterUsername.toLowerCase();
  if (isMaster && !users.masterUserThroughProxy) {
    throw new ServerlessLampValidationError(
      `grantConnect: dbUser ('${user}') is the master user, which no proxy admits by default: applications connect as ` +
        'application users (addUser). To connect as the master user anyway, use authentication ' +
        'DatabaseAuthentication.SECRETS with masterUserThroughProxy: true',
    );
  }
  if (users.withoutProxy.has(user)) {
    throw new ServerlessLampValidationError(
      `grantConnect: dbUser ('${user}') is declared with proxyAccess (false): no proxy connects as it. Declare it ` +
        'with proxyAccess: true, or grant another user',
    );
  }
  if (users.authentication === DatabaseAuthentication.IAM) {
    allowProxyAs(users, user);
  } else if (!isMaster && !users.declared.has(user)) {
    throw new ServerlessLampValidationError(
      `grantConnect: dbUser ('${user}') has no secret registered with the proxies: declare it with addUser('${user}', ...)`,
    );
  }
}

/**
 * How many users' creations (or updates, or drops) run at once: at most this
 * many provider invocations, each with one connection as the master user.
 */
export const USER_CREATION_LANES = 8;

/** Adds `user` to those the proxies' role may connect to the cluster as (end-to-end IAM), once. */
function allowProxyAs(users: Users, user: string): void {
  if (users.connectable.has(user)) return;
  users.connectable.add(user);
  users.allowProxyAs?.(user);
}

/** The database parts a user is created in and with. */
export interface UserTarget {
  readonly state: DatabaseState;
  readonly cluster: rds.DatabaseCluster;
  /** The master secret, which the users provider connects with. */
  readonly secret: secretsmanager.ISecret;
  /** The proxies' role, which reads each user's secret (SECRETS). */
  readonly proxyRole: iam.IRole;
  readonly encryptionKey: kms.IKey;
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
  target: UserTarget,
  userName: string,
  grants: Array<{ Privileges: string[]; Table?: string }>,
  proxyAccess: boolean = true,
): DeclaredUser {
  const { state, cluster } = target;
  const users = state.users;
  if (users.declared.has(userName)) {
    throw new ServerlessLampValidationError(`userName ('${userName}') is declared twice in ${state.scope.node.path}`);
  }
  // A few at a time: each user's creation opens a connection as the master
  // user, and CloudFormation would otherwise start them all at once. The
  // users form USER_CREATION_LANES chains, in the order they are declared.
  const earlier = [...users.declared.values()];
  const laneBefore = earlier.length >= USER_CREATION_LANES ? earlier[earlier.length - USER_CREATION_LANES] : undefined;
  users.declared.set(userName, scope);
  const provider = usersProvider(target);
  const properties: Record<string, string> = {
    SecretArn: target.secret.secretArn,
    Host: cluster.clusterEndpoint.hostname,
    Port: String(MYSQL_PORT),
    UserName: userName,
    Database: state.databaseName,
    Grants: JSON.stringify(grants),
    Authentication: users.authentication === DatabaseAuthentication.IAM ? 'IAM' : 'PASSWORD',
  };
  // The writer must be available (the cluster itself is referenced by Host),
  // and the provider's network rules in place.
  const dependencies: IConstruct[] = [
    ...cluster.node.findAll().filter((c) => c instanceof rds.CfnDBInstance),
    ...provider.network,
    ...(laneBefore ? [laneBefore] : []),
  ];
  if (!proxyAccess) users.withoutProxy.add(userName);
  if (users.authentication === DatabaseAuthentication.IAM) {
    if (proxyAccess) allowProxyAs(users, userName);
    return { serviceToken: provider.serviceToken, retention: provider.retention, properties, dependencies };
  }
  const secret = userSecret(scope, target, userName);
  if (proxyAccess) {
    users.secrets.push(secret);
    secret.grantRead(target.proxyRole);
  }
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
function userSecret(scope: Construct, target: UserTarget, userName: string): secretsmanager.ISecret {
  const { state, cluster } = target;
  const generated = new rds.DatabaseSecret(scope, 'Secret', {
    username: userName,
    dbname: state.databaseName,
    encryptionKey: target.encryptionKey,
  });
  const attached = generated.attach(cluster);
  if (!state.rotation) return attached;
  rotateSingleUser(scope, 'Rotation', attached, cluster, {
    vpc: state.vpc,
    vpcSubnets: state.vpcSubnets,
    secretsManager: state.secretsManager(),
    interval: state.rotation.interval,
    securityGroup: state.rotation.securityGroup,
  });
  return attached;
}

/**
 * How long CloudFormation waits for the provider's answer. The function
 * answers within its own 5 minutes (a watchdog answers FAILED shortly before
 * they run out), so an answer that has not come by then will not come.
 */
export const PROVIDER_SERVICE_TIMEOUT = Duration.minutes(10);

/**
 * The users provider of the database, created with the first user (and kept
 * in its state).
 *
 * Its function runs in the database's subnets: it reads the master secret
 * (through the Secrets Manager endpoint, or the subnets' NAT), connects
 * straight to the cluster on 3306, and answers CloudFormation at the request's
 * presigned S3 URL (through an S3 gateway endpoint, or the NAT). No function
 * runs outside the VPC: the custom resource framework would need one.
 */
function usersProvider(target: UserTarget): UsersProvider {
  const { state, cluster } = target;
  if (state.usersProvider) return state.usersProvider;
  const database = state.scope;
  const access = state.secretsManager();
  const securityGroup = closedSecurityGroup(database, 'UsersSecurityGroup', state.vpc,
    'Database users provider: no inbound, outbound only to the cluster and Secrets Manager');
  withLiteralPort(cluster).connections.allowDefaultPortFrom(securityGroup, 'Database users provider to the cluster');
  allowSecretsManager(access, securityGroup, 'Database users provider to Secrets Manager');
  // CloudFormation's answer URL (an S3 bucket of the Region): through the
  // subnets' S3 gateway endpoint, or their NAT; allowed to S3's prefix list
  // where the stack's environment is concrete, else to any address on 443
  // (see allowS3).
  const s3Endpoint = allowS3(database, state, securityGroup, state.s3Route);
  const role = new iam.Role(database, 'UsersRole', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: 'Serverless LAMP database users provider: VPC networking, logs, the master secret',
    managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole')],
  });
  const fn = new UsersFunction(database, 'UsersFunction', {
    description: 'Serverless LAMP: creates, changes and drops application database users',
    runtime: state.functionRuntime.runtime,
    role,
    vpc: state.vpc,
    vpcSubnets: state.vpcSubnets,
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
      retention: state.logging.logRetention,
      encryptionKey: target.encryptionKey,
      removalPolicy: state.logging.logRemovalPolicy,
    }),
    environment: access.url ? { SECRETS_MANAGER_ENDPOINT: access.url } : {},
  });
  target.secret.grantRead(fn);
  acknowledgeProvider(fn, role);
  acknowledgeFunctionRuntime(fn, state.functionRuntime);
  // Every path the function takes must exist before a user is created: its own
  // group's rules, the rules into the cluster's and the endpoint's groups (their
  // children), the route to S3.
  const network: IConstruct[] = [
    securityGroup,
    ...cluster.connections.securityGroups,
    ...(access.endpoint?.connections.securityGroups ?? []),
    ...(s3Endpoint ? [s3Endpoint] : []),
  ];
  const retention = state.usersOutliveStack ? retentionResource(database, target, fn.functionArn, network) : undefined;
  state.usersProvider = { serviceToken: fn.functionArn, function: fn, network, retention };
  return state.usersProvider;
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
function retentionResource(scope: Construct, target: UserTarget, serviceToken: string, network: IConstruct[]): CustomResource {
  const resource = new CustomResource(scope, 'UsersRetention', {
    serviceToken,
    resourceType: RETENTION_RESOURCE_TYPE,
    properties: {
      SecretArn: target.secret.secretArn,
      Host: target.cluster.clusterEndpoint.hostname,
      Port: String(MYSQL_PORT),
    },
    serviceTimeout: PROVIDER_SERVICE_TIMEOUT,
  });
  resource.node.addDependency(...network);
  return resource;
}
