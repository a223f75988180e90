/**
 * How the selected subnets reach S3 in the stack's Region.
 *
 * The database users provider, a function in those subnets, answers
 * CloudFormation at a presigned S3 URL (a bucket CloudFormation keeps in each
 * Region). Subnets without internet access reach it only through a route to
 * an S3 gateway endpoint on their route tables.
 */
export enum S3Route {
  /**
   * The construct adds an S3 gateway endpoint to the route tables of the
   * selected subnets, except those it sees served by an S3 gateway endpoint of
   * this app already (a route table holds one route per prefix list, so a
   * second S3 endpoint on it would fail to deploy). Its policy allows only
   * `s3:PutObject` to CloudFormation's custom resource response bucket of the
   * Region. An imported VPC must know the subnets' route table ids
   * (`Vpc.fromLookup` finds them; `Vpc.fromVpcAttributes` needs
   * `isolatedSubnetRouteTableIds`).
   */
  CREATE_GATEWAY_ENDPOINT = 'CREATE_GATEWAY_ENDPOINT',

  /**
   * The selected subnets' route tables already route to S3 in the Region
   * (through a gateway endpoint of yours, or a NAT): the construct adds no
   * endpoint. A policy on your endpoint must allow `s3:PutObject` to
   * `arn:<partition>:s3:::cloudformation-custom-resource-response-<region without dashes>/*`.
   */
  ALREADY_ROUTED = 'ALREADY_ROUTED',
}
