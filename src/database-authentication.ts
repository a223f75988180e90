/**
 * How application users authenticate, from the function to the database.
 */
export enum DatabaseAuthentication {
  /**
   * End-to-end IAM: clients connect to the proxy with an IAM token, and the
   * proxy connects to Aurora with IAM as the same user (RDS Proxy
   * `DefaultAuthScheme: IAM_AUTH`). Users have no password anywhere: they are
   * created `IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'`, and the proxy's
   * role may `rds-db:connect` to the cluster as exactly the declared users.
   */
  IAM = 'IAM',

  /**
   * Clients connect to the proxy with an IAM token; the proxy connects to
   * Aurora with a password it reads from Secrets Manager. Each user gets a
   * generated secret, rotated like the master's, registered with every proxy.
   */
  SECRETS = 'SECRETS',
}
