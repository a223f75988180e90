/*
 * Context for stacks with a concrete account and Region: what `cdk synth`
 * would have looked up and kept in cdk.context.json (the Availability Zones,
 * S3's prefix list, an existing VPC).
 */
import { App, Stack } from 'aws-cdk-lib';

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';
/** S3's prefix list in the Region (`com.amazonaws.us-east-1.s3`), as the lookup would find it. */
export const S3_PREFIX_LIST = 'pl-63a5400a';
/** The VPC `vpcLookupContext` describes. */
export const LOOKED_UP_VPC = 'vpc-0a1b2c3d4e5f67890';

/** The context entries of the Availability Zones and of S3's prefix list. */
export const LOOKUPS: Record<string, unknown> = {
  [`availability-zones:account=${ACCOUNT}:region=${REGION}`]: [`${REGION}a`, `${REGION}b`],
  [`cc-api-provider:account=${ACCOUNT}:expectedMatchCount=exactly-one:propertiesToReturn.0=PrefixListId:` +
    `propertyMatch.OwnerId=AWS:propertyMatch.PrefixListName=com.amazonaws.${REGION}.s3:region=${REGION}:typeName=AWS$:$:EC2$:$:PrefixList`]:
    [{ PrefixListId: S3_PREFIX_LIST }],
};

/**
 * The context entry of `Vpc.fromLookup({ vpcId: LOOKED_UP_VPC })`: two
 * isolated subnets that share one route table (as a VPC made by hand often has).
 */
export function vpcLookupContext(): Record<string, unknown> {
  return {
    [`vpc-provider:account=${ACCOUNT}:filter.vpc-id=${LOOKED_UP_VPC}:region=${REGION}:returnAsymmetricSubnets=true`]: {
      vpcId: LOOKED_UP_VPC,
      vpcCidrBlock: '10.20.0.0/16',
      availabilityZones: [],
      subnetGroups: [{
        name: 'Data',
        type: 'Isolated',
        subnets: [
          { subnetId: 'subnet-0aaaaaaaaaaaaaaa1', cidr: '10.20.1.0/24', availabilityZone: `${REGION}a`, routeTableId: 'rtb-0shared000000000' },
          { subnetId: 'subnet-0bbbbbbbbbbbbbbb2', cidr: '10.20.2.0/24', availabilityZone: `${REGION}b`, routeTableId: 'rtb-0shared000000000' },
        ],
      }],
    },
  };
}

/** A stack in ACCOUNT/REGION whose lookups are all answered. */
export function concreteStack(id = 'Concrete', extraContext: Record<string, unknown> = {}): Stack {
  const app = new App({ context: { ...LOOKUPS, ...extraContext } });
  return new Stack(app, id, { env: { account: ACCOUNT, region: REGION } });
}
