/*
 * MySQL as every part of the database speaks it: the port, and the cluster seen through it.
 */
import { aws_ec2 as ec2, aws_rds as rds } from 'aws-cdk-lib';

/** The MySQL port, used by the cluster and by every proxy. */
export const MYSQL_PORT = 3306;

/**
 * The cluster as the constructs that open its port see it (the proxies, the
 * rotation function): the same cluster, but its `connections` name the port as
 * the literal 3306 rather than the cluster's `Endpoint.Port` attribute, so rule
 * packs can read the rules they create. Nothing is rewritten: rules others add
 * through `cluster.connections` are theirs, as aws-cdk-lib makes them.
 *
 * The port keeps the string form aws-cdk-lib gives a port token
 * (`{IndirectPort}`), from which the rules' construct ids, and so their logical
 * ids, are made: a deployed stack's rules stay in place.
 */
export function withLiteralPort(cluster: rds.DatabaseCluster): rds.DatabaseCluster {
  const connections = new ec2.Connections({
    securityGroups: cluster.connections.securityGroups,
    defaultPort: new ec2.Port({ protocol: ec2.Protocol.TCP, fromPort: MYSQL_PORT, toPort: MYSQL_PORT, stringRepresentation: '{IndirectPort}' }),
  });
  return Object.create(cluster, { connections: { value: connections } });
}
