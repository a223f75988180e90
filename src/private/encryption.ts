import { ArnFormat, Aws, RemovalPolicy, Stack, aws_iam as iam, aws_kms as kms } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/**
 * The customer managed key that encrypts the cluster's storage, the secret and
 * the log groups: the one given, or a new one with yearly rotation.
 */
export function encryptionKey(scope: Construct, given: kms.IKey | undefined, removalPolicy: RemovalPolicy): kms.IKey {
  if (given) return given;
  const key = new kms.Key(scope, 'Key', {
    description: 'Serverless LAMP database: cluster storage, credentials secret and log groups',
    enableKeyRotation: true,
    removalPolicy: removalPolicy === RemovalPolicy.DESTROY ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
  });
  // CloudWatch Logs encrypts this construct's log groups with the key, and
  // only log groups of this account and Region.
  key.grantEncryptDecrypt(new iam.PrincipalWithConditions(
    new iam.ServicePrincipal(`logs.${Aws.REGION}.amazonaws.com`),
    {
      ArnLike: {
        'kms:EncryptionContext:aws:logs:arn': Stack.of(scope).formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: '*',
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      },
    },
  ));
  // Only AWS services may create grants on the key, and only for AWS
  // resources (AWS Control Tower control CT.KMS.PR.3).
  key.addToResourcePolicy(new iam.PolicyStatement({
    sid: 'DenyCreateGrantExceptForAwsServices',
    effect: iam.Effect.DENY,
    principals: [new iam.AnyPrincipal()],
    actions: ['kms:CreateGrant'],
    resources: ['*'],
    conditions: {
      BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
    },
  }));
  return key;
}
