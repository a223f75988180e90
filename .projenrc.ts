import { awscdk, javascript } from 'projen';

/*
 * aws-cdk-lib version choice.
 *
 * - Peer floor (what consumers need): 2.257.0. `DatabaseProxy.defaultAuthScheme`
 *   arrived in 2.235.0 and `Runtime.NODEJS_24_X` well before that, so any 2.2xx
 *   release past 2.235 would work; we keep the floor equal to the version we
 *   build and test with so that nothing we rely on is untested.
 * - Build/test version: 2.257.0, on purpose not newer. aws-cdk-lib >= 2.258.0
 *   writes cloud assembly schema 54, and the latest @aws-cdk/integ-runner
 *   (2.197.x, bundling CDK CLI 2.1115) reads at most schema 53, so the
 *   integration snapshots could not be checked on a newer aws-cdk-lib.
 *   cdk-nag 3.x is run through its packs' `validateScope()` in tests, which
 *   works on this version (its synth-plugin mode needs >= 2.258.0).
 */
const CDK_VERSION = '2.257.0';

/*
 * esbuild settings for the handler bundle beyond projen's `BundlingOptions`
 * (which types only `externals` and `sourcemap`; projen forwards the rest to
 * `Bundler.addBundle`).
 */
const handlerEsbuild: Partial<javascript.AddBundleOptions> = {
  minify: true,
};

const project = new awscdk.AwsCdkConstructLibrary({
  name: 'serverless-lamp-database',
  description:
    'An AWS CDK L3 construct for the serverless LAMP database tier: Aurora MySQL 3 behind RDS Proxy (IAM auth, TLS), with a VPC Lambda handler that connects through it.',
  author: 'Serverless LAMP Database contributors',
  authorAddress: 'maintainers@example.com',
  repositoryUrl: 'https://github.com/serverless-lamp/serverless-lamp-database.git',
  keywords: ['cdk', 'aws-cdk', 'rds', 'rds-proxy', 'aurora', 'mysql', 'lambda', 'serverless', 'lamp'],
  license: 'Apache-2.0',
  stability: 'experimental',

  cdkVersion: CDK_VERSION,
  defaultReleaseBranch: 'main',
  jsiiVersion: '~6.0.0',
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,
  // The layout this project documents keeps the development tsconfig at the root.
  tsconfigDevFile: 'tsconfig.dev.json',
  // Lint every TypeScript file against that one config (rather than the
  // nearest tsconfig.json, which test files do not have).
  eslintOptions: {
    dirs: ['src'],
    devdirs: ['test', 'example', 'benchmark'],
    tsconfigPath: './tsconfig.dev.json',
    projectService: false,
  },
  tsconfigDev: {
    include: ['src/**/*.ts', 'test/**/*.ts', 'example/**/*.ts', 'benchmark/**/*.ts', '.projenrc.ts'],
    exclude: ['node_modules', 'lib', 'assets', '**/*.snapshot/**'],
    compilerOptions: {},
  },

  // Publishing targets for jsii (only npm can be built offline; the others are
  // generated with `jsii-pacmak --code-only`).
  publishToPypi: {
    distName: 'serverless-lamp-database',
    module: 'serverless_lamp_database',
  },
  publishToMaven: {
    javaPackage: 'io.github.serverlesslamp.database',
    mavenGroupId: 'io.github.serverless-lamp',
    mavenArtifactId: 'serverless-lamp-database',
  },
  publishToNuget: {
    dotNetNamespace: 'ServerlessLamp.Database',
    packageId: 'ServerlessLamp.Database',
  },
  publishToGo: {
    moduleName: 'github.com/serverless-lamp/serverless-lamp-database-go',
  },

  // The handler (src/handler/*.lambda.ts) is bundled with esbuild at build time.
  lambdaOptions: {
    // Explicit: projen's default is NODEJS_REGIONAL_LATEST, which varies per region.
    runtime: awscdk.LambdaRuntime.NODEJS_22_X,
    bundlingOptions: {
      // Bundle everything, including @aws-sdk/rds-signer: the Lambda Node.js
      // runtime is not documented to ship it, and a consumer must not need to
      // install anything extra.
      externals: [],
      sourcemap: false,
      ...handlerEsbuild,
    },
  },

  experimentalIntegRunner: true,

  devDeps: [
    // Handler-only packages live in devDeps: they are bundled into the asset.
    'mysql2',
    '@aws-sdk/rds-signer',
  ],

  gitignore: [
    '/example/cdk.out/',
    '/.tmp/',
    // Integration snapshots keep templates and manifests; asset folders (the
    // bundled handler) are rebuilt on every run and are not compared.
    'test/*.snapshot/asset.*',
  ],
});

// integ-tests-alpha: projen's IntegRunner asks for `@latest`; pin the newest release available
// when this was written whose aws-cdk-lib peer range (^2.245.0) includes the version we build with.
project.deps.removeDependency('@aws-cdk/integ-tests-alpha');
project.addDevDeps('@aws-cdk/integ-tests-alpha@2.245.0-alpha.0');

// Nothing here talks to AWS. Make sure no SDK probes the EC2 instance metadata
// service for credentials or a region while synthesizing.
project.tasks.addEnvironment('AWS_EC2_METADATA_DISABLED', 'true');

// The handler asset must exist before tests synthesize stacks that use it.
project.testTask.prependSpawn(project.bundler.bundleTask);

// The main job: synthesize the example consumer app (no AWS account needed).
project.addTask('example', {
  description: 'Synthesize the example consumer app in example/ (offline, no AWS account needed)',
  steps: [
    { spawn: project.bundler.bundleTask.name },
    { exec: 'ts-node --project tsconfig.dev.json example/app.ts' },
  ],
});

project.npmignore?.exclude('/example/', '/.ci/', '/benchmark/', '/.tmp/');

project.synth();
