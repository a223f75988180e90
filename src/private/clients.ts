import * as path from 'node:path';
import { Stack, aws_iam as iam, aws_lambda as lambda, aws_rds as rds } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { ServerlessLampValidationError } from './errors';
import { MYSQL_PORT } from './mysql';
import { databaseOf, declaredUser } from './users';
import type { ConnectFunctionOptions } from '../connect-function';
import type { ProxyBase } from '../proxy-base';
import type { ServerlessLampDatabase } from '../serverless-lamp-database';

/** The PHP connector, shipped in the package: `php/serverless-lamp/Database.php`. */
const PHP_CONNECTOR_DIR = path.join(__dirname, '..', '..', 'php');

/**
 * Lets an existing function use the database through `front`'s proxy: the
 * network path on 3306, `rds-db:connect` as a database user, and the
 * environment the handler and the connectors read (`DB_HOST`, `DB_PORT`,
 * `DB_USER`, `DB_NAME`).
 */
export function connectFunction(front: ProxyBase, fn: lambda.Function, options: ConnectFunctionOptions): iam.Grant {
  const database = databaseOf(front);
  assertInVpc(database, fn);
  const host = options.readOnly ? readOnlyHost(front, database) : front.proxy.endpoint;
  front.connections.allowDefaultPortFrom(fn, `${fn.node.id} to the RDS Proxy`);
  const user = options.databaseUser ?? front.defaultDatabaseUser;
  const grant = front.grantConnect(fn, user);
  // No invocation before its user exists, nor after it was dropped.
  const declared = declaredUser(front, user);
  if (declared) fn.node.addDependency(declared);
  fn.addEnvironment('DB_HOST', host);
  fn.addEnvironment('DB_PORT', String(MYSQL_PORT));
  fn.addEnvironment('DB_USER', user);
  fn.addEnvironment('DB_NAME', database.databaseName);
  if (options.phpConnector) fn.addLayers(phpConnectorLayer(database));
  return grant;
}

/** The function must run in the database's VPC: the proxy has no address anywhere else. */
function assertInVpc(database: ServerlessLampDatabase, fn: lambda.Function): void {
  if (!fn.isBoundToVpc) {
    throw new ServerlessLampValidationError(
      `connectFunction: function ${fn.node.path} is not in a VPC; the proxy is reachable only from inside ` +
        `${database.node.path}'s VPC: create the function with vpc: db.vpc (and vpcSubnets: db.vpcSubnets)`,
    );
  }
  const stack = Stack.of(database);
  const key = (id: string) => JSON.stringify(stack.resolve(id));
  const vpc = database.vpc;
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

function readOnlyHost(front: ProxyBase, database: ServerlessLampDatabase): string {
  const endpoint: rds.DatabaseProxyEndpoint | undefined = (front as IConstruct) === database ? database.readOnlyEndpoint : undefined;
  if (!endpoint) {
    throw new ServerlessLampValidationError(
      `connectFunction: readOnly (true) needs the read-only endpoint of ${database.node.path}'s own proxy, which ` +
        (front === (database as IConstruct) ? 'exists only when the cluster has readers' : `${front.node.path} has not`),
    );
  }
  return endpoint.endpoint;
}

/** The PHP connector as a Lambda layer (one per database): `/opt/serverless-lamp/Database.php`. */
function phpConnectorLayer(database: ServerlessLampDatabase): lambda.ILayerVersion {
  const existing = database.node.tryFindChild('PhpConnector') as lambda.LayerVersion | undefined;
  return existing ?? new lambda.LayerVersion(database, 'PhpConnector', {
    code: lambda.Code.fromAsset(PHP_CONNECTOR_DIR),
    description: 'serverless-lamp-database PHP connector: /opt/serverless-lamp/Database.php',
    compatibleArchitectures: [lambda.Architecture.ARM_64, lambda.Architecture.X86_64],
    license: 'Apache-2.0',
  });
}
