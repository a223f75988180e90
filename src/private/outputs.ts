import { CfnOutput } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/** What operators look up after a deploy: the proxy's host name, the master secret, the handler. */
export function addOutputs(scope: Construct, v: { readonly proxyEndpoint: string; readonly secretArn: string; readonly handlerName: string }): void {
  new CfnOutput(scope, 'ProxyEndpoint', {
    description: 'Host name of the RDS Proxy endpoint (port 3306, IAM auth and TLS required)',
    value: v.proxyEndpoint,
  });
  new CfnOutput(scope, 'SecretArn', {
    description: 'ARN of the Secrets Manager secret holding the master credentials',
    value: v.secretArn,
  });
  new CfnOutput(scope, 'HandlerFunctionName', {
    description: 'Name of the Lambda function that queries the database through the proxy',
    value: v.handlerName,
  });
}
