/**
 * How a proxy's security group admits the functions `connectFunction()`
 * connects.
 */
export enum ClientAdmission {
  /**
   * The function joins the proxy's client security group
   * (`clientSecurityGroup`), which the proxy admits with one rule on 3306:
   * the proxy's group holds one rule however many functions connect. The
   * function keeps its own groups; it may hold five in all.
   */
  CLIENT_SECURITY_GROUP = 'CLIENT_SECURITY_GROUP',

  /**
   * The proxy's security group admits each of the function's own security
   * groups with a rule of its own on 3306. AWS allows 60 inbound rules per
   * security group by default, so this stops at about 60 functions per
   * proxy; past that, synth warns.
   */
  FUNCTION_SECURITY_GROUPS = 'FUNCTION_SECURITY_GROUPS',
}

/**
 * How a function connects with `connectFunction()`.
 */
export interface ConnectFunctionOptions {
  /**
   * The database user the function connects as. With end-to-end IAM, a user
   * created by hand is also added to those the proxy may connect as; with
   * secrets, it must be declared with `addUser()`; the master user is refused.
   *
   * @default - the database's application user (`defaultDatabaseUser`)
   */
  readonly databaseUser?: string;

  /**
   * Whether the function connects to the proxy's read-only endpoint (`DB_HOST`
   * is then its host name), which spreads connections over the readers. Only
   * on the database's own proxy, when it has a read-only endpoint.
   *
   * @default false
   */
  readonly readOnly?: boolean;

  /**
   * Whether to add the PHP connector as a Lambda layer: a PHP function then
   * `require '/opt/serverless-lamp/Database.php'` and calls
   * `\ServerlessLamp\Database::connection()` (see the README's PHP section).
   *
   * @default false
   */
  readonly phpConnector?: boolean;

  /**
   * How the proxy's security group admits the function.
   *
   * @default ClientAdmission.CLIENT_SECURITY_GROUP
   */
  readonly admission?: ClientAdmission;
}
