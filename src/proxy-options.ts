import { Duration, aws_ec2 as ec2, aws_rds as rds } from 'aws-cdk-lib';

/**
 * An RDS Proxy's name, network and connection pool: the options of the
 * construct's own proxy (`proxy`) and of every proxy added with `addProxy()`.
 *
 * The names, meanings and limits are those of `rds.DatabaseProxyOptions`;
 * invalid values fail at synth. Every proxy requires IAM authentication and TLS,
 * which is not an option.
 */
export interface ProxyOptions {
  /**
   * The name of the RDS Proxy: 1 to 63 letters, digits or hyphens, starting with a
   * letter, not ending with a hyphen and without two consecutive hyphens.
   *
   * @default - a name unique to the construct path, such as `mystack-db-1a2b3c4d-proxy`
   */
  readonly dbProxyName?: string;

  /**
   * The maximum size of the connection pool for each target in a target group,
   * as a percentage of the cluster's `max_connections`. Allowed: 1 to 100.
   * Give each application its own proxy and a share of 100 to divide the
   * database's connections between them.
   *
   * @default 100
   * @see https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-proxy-connections.html
   */
  readonly maxConnectionsPercent?: number;

  /**
   * How actively the proxy closes idle database connections, as a percentage of
   * `max_connections`. Allowed: 0 to `maxConnectionsPercent`.
   *
   * @default - half of `maxConnectionsPercent` (RDS Proxy's own rule), so 50 with the defaults
   */
  readonly maxIdleConnectionsPercent?: number;

  /**
   * How long the proxy waits for a free database connection before answering
   * `9501 Timed-out waiting to acquire database connection`. Allowed: 0 to 300
   * seconds; for the construct's own proxy, also at least 3 seconds shorter than
   * the handler's `timeout`, so that the handler can report the error before
   * Lambda stops it. Keep it below your clients' own timeouts too. RDS Proxy's
   * own default (120 seconds) is longer than a typical API timeout, hence this default.
   *
   * @default Duration.seconds(10)
   */
  readonly borrowTimeout?: Duration;

  /**
   * How long a client connection may sit idle before the proxy closes it.
   * Allowed: 1 second to 8 hours.
   *
   * @default Duration.minutes(30)
   */
  readonly idleClientTimeout?: Duration;

  /**
   * Operations that should not pin a client session to one database connection.
   *
   * @default - no session pinning filters
   */
  readonly sessionPinningFilters?: rds.SessionPinningFilter[];

  /**
   * One or more SQL statements the proxy runs when it opens each new database connection.
   *
   * @default - no initialization query
   */
  readonly initQuery?: string;

  /**
   * Whether the proxy logs detailed connection information, including SQL
   * statements. Turn on only to debug: the logs may hold sensitive data. Draws a warning.
   *
   * @default false
   */
  readonly debugLogging?: boolean;

  /**
   * Security groups for the proxy.
   *
   * @default - a security group is created that admits only the clients you
   * allow and may only reach the cluster on port 3306
   */
  readonly securityGroups?: ec2.ISecurityGroup[];
}
