import * as path from 'node:path';
import { Stack, aws_lambda as lambda } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ServerlessLampValidationError } from './errors';
import { MYSQL_PORT } from './mysql';
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
