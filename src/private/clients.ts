import * as path from 'node:path';
import { Stack, Token, Tokenization, aws_ec2 as ec2, aws_lambda as lambda } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ServerlessLampValidationError } from './errors';
import { MYSQL_PORT } from './mysql';
import { closedSecurityGroup } from './network';
import type { DatabaseState } from './state';

/** The PHP connector, shipped in the package: `php/serverless-lamp/Database.php`. */
const PHP_CONNECTOR_DIR = path.join(__dirname, '..', '..', 'php');

/** Where and as whom a client function connects. */
export interface ClientConnection {
  /** The proxy endpoint's host name. */
  readonly host: string;
  readonly user: string;
  /** Whether to add the PHP connector as a layer. */
  readonly phpConnector?: boolean;
}

/**
 * Gives an existing function the environment the handler and the connectors
 * read (`DB_HOST`, `DB_PORT`, `DB_USER`, `DB_NAME`), and the PHP connector
 * when asked; the network path and the grant are the proxy's to give.
 */
export function configureClient(state: DatabaseState, fn: lambda.Function, c: ClientConnection): void {
  // No invocation before its user exists, nor after it was dropped.
  const declared = state.users.declared.get(c.user);
  if (declared) fn.node.addDependency(declared);
  fn.addEnvironment('DB_HOST', c.host);
  fn.addEnvironment('DB_PORT', String(MYSQL_PORT));
  fn.addEnvironment('DB_USER', c.user);
  fn.addEnvironment('DB_NAME', state.databaseName);
  if (c.phpConnector) fn.addLayers(phpConnectorLayer(state.scope));
}

/** The function must run in the database's VPC: the proxy has no address anywhere else. */
export function assertInVpc(state: DatabaseState, fn: lambda.Function): void {
  const database = state.scope;
  if (!fn.isBoundToVpc) {
    throw new ServerlessLampValidationError(
      `connectFunction: function ${fn.node.path} is not in a VPC; the proxy is reachable only from inside ` +
        `${database.node.path}'s VPC: create the function with vpc: db.vpc (and vpcSubnets: db.vpcSubnets)`,
    );
  }
  const stack = Stack.of(database);
  const key = (id: string) => JSON.stringify(stack.resolve(id));
  const vpc = state.vpc;
  const vpcSubnets = new Set([...vpc.publicSubnets, ...vpc.privateSubnets, ...vpc.isolatedSubnets].map((s) => key(s.subnetId)));
  const subnets = (stack.resolve((fn.node.defaultChild as lambda.CfnFunction).vpcConfig) as { subnetIds?: unknown[] } | undefined)?.subnetIds ?? [];
  const foreign = subnets.map((s) => JSON.stringify(s)).filter((s) => !vpcSubnets.has(s));
  if (foreign.length > 0) {
    throw new ServerlessLampValidationError(
      `connectFunction: function ${fn.node.path} is in subnets outside ${database.node.path}'s VPC (${foreign.join(', ')}); ` +
        'the proxy is reachable only from inside it: create the function with vpc: db.vpc',
    );
  }
}

/**
 * The host of the read-only endpoint a client asked for (`readOnly`): only
 * the database's own proxy (`frontPath` is the database's) has one.
 */
export function readOnlyHost(state: DatabaseState, frontPath: string, endpoint: string | undefined): string {
  const databasePath = state.scope.node.path;
  if (!endpoint) {
    throw new ServerlessLampValidationError(
      `connectFunction: readOnly (true) needs the read-only endpoint of ${databasePath}'s own proxy, which ` +
        (frontPath === databasePath ? 'exists only when the cluster has readers' : `${frontPath} has not`),
    );
  }
  return endpoint;
}

/** The PHP connector as a Lambda layer (one per database): `/opt/serverless-lamp/Database.php`. */
function phpConnectorLayer(database: Construct): lambda.ILayerVersion {
  const existing = database.node.tryFindChild('PhpConnector') as lambda.LayerVersion | undefined;
  return existing ?? new lambda.LayerVersion(database, 'PhpConnector', {
    code: lambda.Code.fromAsset(PHP_CONNECTOR_DIR),
    description: 'serverless-lamp-database PHP connector: /opt/serverless-lamp/Database.php',
    compatibleArchitectures: [lambda.Architecture.ARM_64, lambda.Architecture.X86_64],
    license: 'Apache-2.0',
  });
}

/** The most security groups a Lambda function's network interfaces may hold (Amazon VPC quotas). */
const MAX_FUNCTION_SECURITY_GROUPS = 5;

/**
 * The client security group of the proxy whose construct is `scope` (made on
 * first use): its members reach the proxy on 3306, and nothing else through
 * it; the proxy admits the group with one rule, however many members it has.
 */
export function clientSecurityGroup(scope: Construct, vpc: ec2.IVpc, proxy: ec2.Connections): ec2.ISecurityGroup {
  const existing = scope.node.tryFindChild('ClientSecurityGroup') as ec2.ISecurityGroup | undefined;
  if (existing) return existing;
  // Security group descriptions allow no apostrophes.
  const group = closedSecurityGroup(scope, 'ClientSecurityGroup', vpc,
    'Clients of an RDS Proxy: the proxy admits this group on 3306');
  proxy.allowDefaultPortFrom(group, 'The client security group of the RDS Proxy');
  return group;
}

/**
 * Adds `group` to the security groups of an existing function. aws-cdk-lib
 * writes a function's groups into its VpcConfig when it is made and offers no
 * way to add one later, so the VpcConfig is extended here, and the
 * function's `connections` with it.
 */
export function joinSecurityGroup(fn: lambda.Function, group: ec2.ISecurityGroup): void {
  if (fn.connections.securityGroups.includes(group)) return;
  const cfn = fn.node.defaultChild as lambda.CfnFunction;
  const vpcConfig = cfn.vpcConfig;
  const ids = vpcConfig && !Tokenization.isResolvable(vpcConfig) ? vpcConfig.securityGroupIds : undefined;
  if (!vpcConfig || Tokenization.isResolvable(vpcConfig) || !ids || Token.isUnresolved(ids)) {
    throw new ServerlessLampValidationError(
      `connectFunction: the security groups of function ${fn.node.path} are not a list known at synth, so it cannot join ` +
        `${group.node.path}: create it with securityGroups including clientSecurityGroup, or connect it with ` +
        'admission: ClientAdmission.FUNCTION_SECURITY_GROUPS',
    );
  }
  if (ids.length >= MAX_FUNCTION_SECURITY_GROUPS) {
    throw new ServerlessLampValidationError(
      `connectFunction: function ${fn.node.path} already has ${ids.length} security groups, the most AWS allows on a ` +
        `function (${MAX_FUNCTION_SECURITY_GROUPS}), so it cannot join ${group.node.path}: create it with securityGroups ` +
        'including clientSecurityGroup, or connect it with admission: ClientAdmission.FUNCTION_SECURITY_GROUPS',
    );
  }
  cfn.vpcConfig = { ...vpcConfig, securityGroupIds: [...ids, group.securityGroupId] };
  fn.connections.addSecurityGroup(group);
}
