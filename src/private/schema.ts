import { CustomResource, aws_iam as iam, aws_rds as rds, aws_s3_assets as s3assets, aws_secretsmanager as secretsmanager } from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';
import { ServerlessLampValidationError } from './errors';
import { MYSQL_PORT } from './mysql';
import { allowObjectThroughEndpoint, createdS3Endpoint } from './network';
import type { DatabaseState } from './state';
import { PROVIDER_SERVICE_TIMEOUT } from './users';
import { DatabaseAuthentication } from '../database-authentication';
import { SCHEMA_RESOURCE_TYPE } from '../provider/properties';

/** What the schema resource is made of. */
export interface SchemaParts {
  readonly state: DatabaseState;
  readonly cluster: rds.DatabaseCluster;
  /** The migrations directory (checked when the schema was made). */
  readonly directory: string;
  readonly outOfOrder: boolean;
  /** The migration user: its name, its resource (which the schema waits for), its secret (SECRETS). */
  readonly migrationUser: { readonly userName: string; readonly resource: IConstruct; readonly secret?: secretsmanager.ISecret };
}

/**
 * The schema resource: the migrations directory as an S3 asset, which the
 * users provider may read (its role, and the S3 gateway endpoint's policy,
 * `s3:GetObject` on exactly that object), and a custom resource whose `Key` (the asset's hash)
 * changes when any file of the directory does, and only then.
 *
 * The provider logs in as the migration user: with end-to-end IAM it signs a
 * token, and gets `rds-db:connect` on the cluster (its resource id) as that
 * user only; with secrets it reads the user's secret (granted when the user
 * was declared).
 */
export function addSchema(scope: Construct, p: SchemaParts): CustomResource {
  const provider = p.state.usersProvider;
  if (!provider) {
    throw new ServerlessLampValidationError(`${scope.node.path}: the schema needs the users provider, made with the first user`);
  }
  const asset = new s3assets.Asset(scope, 'SchemaFiles', { path: p.directory });
  // `asset.grantRead` would give s3:GetObject*, s3:GetBucket* and s3:List* on
  // the whole bootstrap bucket (every asset of the account and Region): the
  // provider needs one action on one object. (The bootstrap bucket's default
  // encryption needs no key grant; `grantRead` adds none for it either.)
  const object = asset.bucket.arnForObjects(asset.s3ObjectKey);
  iam.Grant.addToPrincipal({ grantee: provider.function, actions: ['s3:GetObject'], resourceArns: [object] });
  allowObjectThroughEndpoint(createdS3Endpoint(scope), object);
  const iamLogin = p.state.users.authentication === DatabaseAuthentication.IAM;
  if (iamLogin) {
    p.cluster.grantConnect(provider.function, p.migrationUser.userName);
  } else if (!p.migrationUser.secret) {
    throw new ServerlessLampValidationError(`${scope.node.path}: the migration user ${p.migrationUser.userName} has no secret`);
  }
  const resource = new CustomResource(scope, 'Schema', {
    serviceToken: provider.serviceToken,
    resourceType: SCHEMA_RESOURCE_TYPE,
    properties: {
      Bucket: asset.s3BucketName,
      Key: asset.s3ObjectKey,
      Host: p.cluster.clusterEndpoint.hostname,
      Port: String(MYSQL_PORT),
      Database: p.state.databaseName,
      UserName: p.migrationUser.userName,
      Authentication: iamLogin ? 'IAM' : 'PASSWORD',
      ...(iamLogin ? {} : { PasswordSecretArn: p.migrationUser.secret!.secretArn }),
      OutOfOrder: String(p.outOfOrder),
    },
    // The function's own timeout (5 minutes) is the migrations' time limit;
    // CloudFormation stops waiting after this.
    serviceTimeout: PROVIDER_SERVICE_TIMEOUT,
  });
  // The user exists (with its grants), the provider's network paths are in
  // place, and its role may read the files and connect, before any migration runs.
  resource.node.addDependency(p.migrationUser.resource, ...provider.network, provider.function.role!);
  return resource;
}
