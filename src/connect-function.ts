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
}
