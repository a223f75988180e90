import { CustomResource, aws_iam as iam, aws_secretsmanager as secretsmanager } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ServerlessLampValidationError } from './private/errors';
import { declareUser, PROVIDER_SERVICE_TIMEOUT } from './private/users';
import { DATABASE_PRIVILEGES, parseGrants, USER_RESOURCE_TYPE, userNameProblem } from './provider/properties';
import type { ServerlessLampDatabase } from './serverless-lamp-database';


/**
 * A privilege an application user may hold on the construct's database or on
 * one of its tables. Never `GRANT OPTION` nor anything global (`SUPER`,
 * `FILE`, `PROCESS`, `CREATE USER`, ...).
 */
export class DatabasePrivilege {
  /** Read rows (`SELECT`); also what `SHOW TABLES` needs. */
  public static readonly SELECT = new DatabasePrivilege('SELECT');
  /** Add rows. */
  public static readonly INSERT = new DatabasePrivilege('INSERT');
  /** Change rows. */
  public static readonly UPDATE = new DatabasePrivilege('UPDATE');
  /** Remove rows. */
  public static readonly DELETE = new DatabasePrivilege('DELETE');
  /** Run stored routines. Database level only. */
  public static readonly EXECUTE = new DatabasePrivilege('EXECUTE');
  /** Read view definitions. */
  public static readonly SHOW_VIEW = new DatabasePrivilege('SHOW VIEW');
  /** Create temporary tables (they pin an RDS Proxy session). Database level only. */
  public static readonly CREATE_TEMPORARY_TABLES = new DatabasePrivilege('CREATE TEMPORARY TABLES');
  /** Lock tables (pins an RDS Proxy session). Database level only. */
  public static readonly LOCK_TABLES = new DatabasePrivilege('LOCK TABLES');
  /** Create tables (DDL). Database level only. */
  public static readonly CREATE = new DatabasePrivilege('CREATE');
  /** Alter tables (DDL). Database level only. */
  public static readonly ALTER = new DatabasePrivilege('ALTER');
  /** Drop tables (DDL). Database level only. */
  public static readonly DROP = new DatabasePrivilege('DROP');
  /** Create and drop indexes (DDL). Database level only. */
  public static readonly INDEX = new DatabasePrivilege('INDEX');
  /** Create foreign keys (DDL). Database level only. */
  public static readonly REFERENCES = new DatabasePrivilege('REFERENCES');
  /** Create views (DDL). Database level only. */
  public static readonly CREATE_VIEW = new DatabasePrivilege('CREATE VIEW');
  /** Create triggers (DDL). Database level only. */
  public static readonly TRIGGER = new DatabasePrivilege('TRIGGER');
  /** Create events (DDL). Database level only. */
  public static readonly EVENT = new DatabasePrivilege('EVENT');
  /** Create stored routines (DDL). Database level only. */
  public static readonly CREATE_ROUTINE = new DatabasePrivilege('CREATE ROUTINE');
  /** Alter stored routines (DDL). Database level only. */
  public static readonly ALTER_ROUTINE = new DatabasePrivilege('ALTER ROUTINE');

  /** Read rows: `SELECT`. */
  public static readData(): DatabasePrivilege[] {
    return [DatabasePrivilege.SELECT];
  }

  /** Read and write rows: `SELECT`, `INSERT`, `UPDATE`, `DELETE`. No DDL, no grants. */
  public static readWriteData(): DatabasePrivilege[] {
    return [DatabasePrivilege.SELECT, DatabasePrivilege.INSERT, DatabasePrivilege.UPDATE, DatabasePrivilege.DELETE];
  }

  /**
   * What schema migrations need on the construct's database, and nothing
   * beyond it: data (`SELECT`, `INSERT`, `UPDATE`, `DELETE`, `LOCK TABLES`)
   * and schema changes (`CREATE`, `ALTER`, `DROP`, `INDEX`, `REFERENCES`,
   * `CREATE VIEW`, `SHOW VIEW`, `TRIGGER`, `CREATE ROUTINE`, `ALTER ROUTINE`,
   * `EXECUTE`). No `CREATE USER`, no `GRANT OPTION`, no other database.
   */
  public static schemaChanges(): DatabasePrivilege[] {
    return [
      DatabasePrivilege.SELECT, DatabasePrivilege.INSERT, DatabasePrivilege.UPDATE, DatabasePrivilege.DELETE,
      DatabasePrivilege.LOCK_TABLES, DatabasePrivilege.CREATE, DatabasePrivilege.ALTER, DatabasePrivilege.DROP,
      DatabasePrivilege.INDEX, DatabasePrivilege.REFERENCES, DatabasePrivilege.CREATE_VIEW, DatabasePrivilege.SHOW_VIEW,
      DatabasePrivilege.TRIGGER, DatabasePrivilege.CREATE_ROUTINE, DatabasePrivilege.ALTER_ROUTINE, DatabasePrivilege.EXECUTE,
    ];
  }

  /**
   * A privilege by its MySQL name, for example `SHOW VIEW`; only those the
   * constants name are accepted.
   *
   * @param name the privilege, as MySQL spells it
   */
  public static of(name: string): DatabasePrivilege {
    const upper = name.trim().toUpperCase().replace(/\s+/g, ' ');
    if (!DATABASE_PRIVILEGES.includes(upper)) {
      throw new ServerlessLampValidationError(
        `DatabasePrivilege.of('${name}'): must be one of ${DATABASE_PRIVILEGES.join(', ')}; global privileges and GRANT OPTION are never granted`,
      );
    }
    return new DatabasePrivilege(upper);
  }

  private constructor(
    /** The privilege, as MySQL spells it. */
    public readonly name: string,
  ) {}
}

/** Privileges on one table of the construct's database. */
export interface TableGrant {
  /** The table: 1 to 64 letters, digits or underscores. It must exist when the grant is deployed. */
  readonly table: string;
  /** `SELECT`, `INSERT`, `UPDATE`, `DELETE` or `SHOW VIEW`. */
  readonly privileges: DatabasePrivilege[];
}

/** What an application user may do. */
export interface DatabaseUserOptions {
  /**
   * Privileges on the construct's whole database.
   *
   * @default - `DatabasePrivilege.readWriteData()`: SELECT, INSERT, UPDATE, DELETE
   */
  readonly privileges?: DatabasePrivilege[];

  /**
   * Privileges on single tables, on top of `privileges`. Each table must exist
   * when the grant is deployed (MySQL refuses a grant on a missing table).
   *
   * @default - none
   */
  readonly tableGrants?: TableGrant[];

  /**
   * Whether the database's proxies may connect to the cluster as this user,
   * so that functions can be granted it (`grantConnect()`,
   * `connectFunction()`). A user that only deploy-time tools use, such as the
   * schema's migration user, needs none: then no proxy can log in as it, and
   * granting it through a proxy is refused at synth.
   *
   * @default true
   */
  readonly proxyAccess?: boolean;
}

/** Properties of a `DatabaseUser`. */
export interface DatabaseUserProps extends DatabaseUserOptions {
  /** The database the user belongs to. */
  readonly database: ServerlessLampDatabase;

  /**
   * The user name: 1 to 32 letters, digits or underscores, starting with a
   * letter; not a name MySQL or RDS keeps (`root`, `rdsadmin`, `rds...`,
   * `mysql...`, `aws_...`) nor the master user's.
   */
  readonly userName: string;
}

/**
 * An application user of a `ServerlessLampDatabase`, created, changed and
 * dropped at deploy time with exactly the declared privileges.
 *
 * A function in the VPC (the users provider) runs the SQL as the master user,
 * straight to the cluster over TLS verified against the Amazon RDS certificate
 * authorities. Changing the privileges grants what is missing and revokes what
 * is not declared; removing the user drops it; renaming it creates the new user
 * and drops the old one.
 */
export class DatabaseUser extends Construct {
  /** The user name. */
  public readonly userName: string;

  /**
   * The user's generated secret, with `DatabaseAuthentication.SECRETS`.
   * Undefined with end-to-end IAM: the user has no password.
   */
  public readonly secret?: secretsmanager.ISecret;

  private readonly database: ServerlessLampDatabase;

  constructor(scope: Construct, id: string, props: DatabaseUserProps) {
    super(scope, id);
    validateUser(props);
    this.database = props.database;
    this.userName = props.userName;
    const database = props.database;
    const declared = declareUser(this, {
      state: database._state,
      cluster: database.cluster,
      secret: database.secret,
      proxyRole: database.proxyRole,
      encryptionKey: database.encryptionKey,
    }, props.userName, grantsOf(props), props.proxyAccess ?? true);
    this.secret = declared.secret;
    const resource = new CustomResource(this, 'Resource', {
      serviceToken: declared.serviceToken,
      resourceType: USER_RESOURCE_TYPE,
      properties: declared.properties,
      // CloudFormation stops waiting for an answer that cannot arrive after
      // this, not after an hour.
      serviceTimeout: PROVIDER_SERVICE_TIMEOUT,
    });
    resource.node.addDependency(...declared.dependencies);
    // Deleted before the user, when the stack leaves a database that outlives it.
    declared.retention?.node.addDependency(resource);
  }

  /**
   * Grants `rds-db:connect` as this user through the database's own proxy.
   *
   * @param grantee who may connect
   */
  public grantConnect(grantee: iam.IGrantable): iam.Grant {
    return this.database.grantConnect(grantee, this.userName);
  }
}

function validateUser(props: DatabaseUserProps): void {
  const nameProblem = userNameProblem(props.userName);
  if (nameProblem) throw new ServerlessLampValidationError(`userName ('${props.userName}') ${nameProblem}`);
  if (props.userName.toLowerCase() === props.database.masterUsername.toLowerCase()) {
    throw new ServerlessLampValidationError(
      `userName ('${props.userName}') is the master user's name: the master user is managed by RDS and rotation, not declared`);
  }
  try {
    // The same checks the users provider runs on every request.
    parseGrants(grantsOf(props));
  } catch (e) {
    throw new ServerlessLampValidationError(`privileges or tableGrants of user '${props.userName}': ${(e as Error).message}`);
  }
}

/** The `Grants` resource property: database-level privileges, then each table's. */
function grantsOf(options: DatabaseUserOptions): Array<{ Privileges: string[]; Table?: string }> {
  const database = (options.privileges ?? DatabasePrivilege.readWriteData()).map((p) => p.name);
  return [
    ...(database.length > 0 ? [{ Privileges: database }] : []),
    ...(options.tableGrants ?? []).map((g) => ({ Privileges: g.privileges.map((p) => p.name), Table: g.table })),
  ];
}
