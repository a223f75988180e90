import { Annotations, ArnFormat, Aws, RemovalPolicy, Stack, Token, aws_iam as iam, aws_kms as kms } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/**
 * The customer managed key that encrypts the cluster's storage, the secret and
 * the log groups: the one given, or a new one with yearly rotation. Either way
 * CloudWatch Logs must be allowed to use it, or the log groups fail to create.
 */
export function encryptionKey(scope: Construct, given: kms.IKey | undefined, removalPolicy: RemovalPolicy): kms.IKey {
  if (given) {
    allowCloudWatchLogs(scope, given);
    return given;
  }
  const key = new kms.Key(scope, 'Key', {
    description: 'Serverless LAMP database: cluster storage, credentials secret and log groups',
    enableKeyRotation: true,
    removalPolicy: removalPolicy === RemovalPolicy.DESTROY ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
  });
  allowCloudWatchLogs(scope, key);
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

/**
 * CloudWatch Logs encrypts log groups with a customer managed key only when
 * the key policy lets it, for log groups of this account and Region. A key of
 * this app gets the statement; an imported key's policy cannot be changed
 * here, so the user is told what to add.
 */
function allowCloudWatchLogs(scope: Construct, key: kms.IKey): void {
  const logGroups = Stack.of(scope).formatArn({
    service: 'logs',
    resource: 'log-group',
    resourceName: '*',
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
  const statement = new iam.PolicyStatement({
    principals: [new iam.ServicePrincipal(`logs.${Aws.REGION}.amazonaws.com`)],
    actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*'],
    resources: ['*'],
    conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': logGroups } },
  });
  if (key.addToResourcePolicy(statement, true).statementAdded) return;
  const region = Token.isUnresolved(Stack.of(scope).region) ? '<region>' : Stack.of(scope).region;
  Annotations.of(scope).addWarningV2('serverless-lamp:key-policy',
    `encryptionKey ${key.node.path} is imported, so its key policy cannot be changed here. The log groups this construct ` +
    'creates are encrypted with it and fail to create unless the key policy lets CloudWatch Logs use it: add ' +
    `{"Effect":"Allow","Principal":{"Service":"logs.${region}.amazonaws.com"},` +
    '"Action":["kms:Decrypt","kms:Encrypt","kms:ReEncrypt*","kms:GenerateDataKey*"],"Resource":"*",' +
    '"Condition":{"ArnLike":{"kms:EncryptionContext:aws:logs:arn":"arn:<partition>:logs:<region>:<account>:log-group:*"}}}');
}
