import { aws_ec2 as ec2, aws_rds as rds } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { createProxy } from './private/proxy';
import type { DatabaseState } from './private/state';
import { proxyAuthentication, registerProxySecrets } from './private/users';
import { ProxyBase } from './proxy-base';
import { ProxyOptions } from './proxy-options';
import type { ServerlessLampDatabase } from './serverless-lamp-database';

/**
 * Properties for an `ApplicationProxy`.
 */
export interface ApplicationProxyProps extends ProxyOptions {
  /** The database whose cluster the proxy fronts, with its secret, role, VPC and subnets. */
  readonly database: ServerlessLampDatabase;
}

/**
 * Another RDS Proxy in front of a `ServerlessLampDatabase`'s cluster, for one
 * more application. Usually created with `db.addProxy(id, options)`.
 *
 * It has the same guarantees as the construct's own proxy (IAM authentication
 * and TLS required, the same secret and role), its own security group and a
 * unique name, and admits nobody until you allow a client with
 * `connections.allowDefaultPortFrom()` and `grantConnect()`.
 */
export class ApplicationProxy extends ProxyBase {
  /** The RDS Proxy. */
  public readonly proxy: rds.DatabaseProxy;

  /** Network access to the proxy on port 3306. */
  public readonly connections: ec2.Connections;

  /** The database user `grantConnect()` names when given none: the database's application user. */
  public readonly defaultDatabaseUser: string;

  /**
   * The proxy's endpoint host name.
   * @attribute
   */
  public readonly proxyEndpoint: string;

  /** @internal */
  public readonly _state: DatabaseState;

  constructor(scope: Construct, id: string, props: ApplicationProxyProps) {
    super(scope, id);
    const database = props.database;
    this._state = database._state;
    ({ proxy: this.proxy, connections: this.connections } = createProxy(this, {
      cluster: database.cluster,
      authentication: proxyAuthentication(this._state.users),
      role: database.proxyRole,
      vpc: database.vpc,
      vpcSubnets: database.vpcSubnets,
      encryptionKey: database.encryptionKey,
      ...this._state.logging,
      options: props,
      propPrefix: '',
      securityGroupId: 'SecurityGroup',
    }));
    registerProxySecrets(this._state.users, this.proxy);
    this.proxyEndpoint = this.proxy.endpoint;
    this.defaultDatabaseUser = database.defaultDatabaseUser;
    // The database's alarms and dashboard cover this proxy too.
    database._addedProxy(this);
  }
}
