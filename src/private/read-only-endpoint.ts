import { CfnOutput, Names, aws_ec2 as ec2, aws_lambda as lambda, aws_rds as rds } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ServerlessLampValidationError } from './errors';

export interface ReadOnlyEndpointProps {
  /** The `readOnlyEndpoint` prop. */
  readonly enabled?: boolean;
  /** The `readers` prop. */
  readonly readers?: rds.IClusterInstance[];
  readonly proxy: rds.DatabaseProxy;
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  /** Who may reach the proxy: the endpoint admits the same clients. */
  readonly connections: ec2.Connections;
  /** Told the endpoint's host name (`DB_READER_HOST`). */
  readonly handler: lambda.Function;
}

/**
 * A read-only endpoint on the proxy (`TargetRole: READ_ONLY`), which spreads
 * connections over the cluster's readers: created when the cluster has
 * readers, unless turned off.
 *
 * It uses the proxy's own security groups, so exactly the clients allowed to
 * the proxy reach it; and `rds-db:connect` on the proxy (its `prx-` resource
 * id) covers it: RDS Proxy gives its endpoints the proxy's authentication.
 */
export function addReadOnlyEndpoint(scope: Construct, p: ReadOnlyEndpointProps): rds.DatabaseProxyEndpoint | undefined {
  const readers = p.readers?.length ?? 0;
  if (p.enabled === true && readers === 0) {
    throw new ServerlessLampValidationError(
      'readOnlyEndpoint (true) needs readers: a read-only proxy endpoint routes to the cluster\'s readers, and readers is empty');
  }
  if (p.enabled === false || readers === 0) return undefined;

  const endpoint = new rds.DatabaseProxyEndpoint(scope, 'ReadOnlyEndpoint', {
    dbProxy: p.proxy,
    dbProxyEndpointName: endpointName(scope),
    targetRole: rds.ProxyEndpointTargetRole.READ_ONLY,
    vpc: p.vpc,
    vpcSubnets: p.vpcSubnets,
    securityGroups: p.connections.securityGroups,
  });
  p.handler.addEnvironment('DB_READER_HOST', endpoint.endpoint);
  new CfnOutput(scope, 'ProxyReadOnlyEndpoint', {
    description: 'Host name of the read-only RDS Proxy endpoint, which spreads connections over the readers (port 3306, IAM auth and TLS required)',
    value: endpoint.endpoint,
  });
  return endpoint;
}

/**
 * A name unique to the construct path that follows the endpoint naming rules
 * (letters, digits and hyphens, starting with a letter, no double or trailing
 * hyphen, at most 63 characters), like the proxy's own default name.
 */
function endpointName(scope: Construct): string {
  const unique = Names.uniqueResourceName(scope, { maxLength: 50, separator: '-', allowedSpecialCharacters: '-' });
  const cleaned = `${unique}-read-only`.toLowerCase().replace(/[^a-z0-9-]/g, '').replace(/-+/g, '-').replace(/^[^a-z]+/, '');
  return cleaned.slice(0, 63).replace(/-+$/, '');
}
