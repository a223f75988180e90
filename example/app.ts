/*
 * An example consumer app: one stack, one line of the construct, defaults only.
 *
 * Run it with `npx projen example`. It needs no AWS account: the stack is
 * environment-agnostic, so synthesis runs offline.
 */
import * as path from 'node:path';
import { App, CfnOutput, Stack } from 'aws-cdk-lib';
import { ServerlessLampDatabase } from '../src';

const outdir = path.join(__dirname, 'cdk.out');
const app = new App({ outdir });
const stack = new Stack(app, 'ServerlessLampExample', {
  description: 'Serverless LAMP database tier: Aurora MySQL 3 behind RDS Proxy, queried by a Lambda handler',
});

const db = new ServerlessLampDatabase(stack, 'Db');

new CfnOutput(stack, 'InvokeCommand', {
  description: 'Try the handler after deploying',
  value: `aws lambda invoke --function-name ${db.handler.functionName} /dev/stdout`,
});

const assembly = app.synth();
const artifact = assembly.getStackByName(stack.stackName);
const resources = Object.values(artifact.template.Resources as Record<string, { Type: string }>);
const counts = new Map<string, number>();
for (const r of resources) counts.set(r.Type, (counts.get(r.Type) ?? 0) + 1);

console.log(`Synthesized stack ${stack.stackName}: ${resources.length} resources`);
for (const [type, n] of [...counts.entries()].sort()) console.log(`  ${String(n).padStart(3)}  ${type}`);
console.log(`\nCloudFormation template: ${path.relative(process.cwd(), path.join(outdir, artifact.templateFile))}`);
