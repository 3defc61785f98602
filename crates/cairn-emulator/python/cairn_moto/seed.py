"""Seed the Story 0.2 network fixture into a running emulator (idempotent).

``python -m cairn_moto.seed --endpoint http://127.0.0.1:4566 --env dev`` prints JSON:

    {"vpc_id", "subnet_ids", "app_subnet_ids", "availability_zones",
     "subnet_group_name", "security_group_id", "security_group_name"}

Names (ENV = --env):
  VPC            10.0.0.0/16, tags Name=qualisys-ENV-vpc, cairn:fixture=network-ENV
  app subnets    10.0.10.0/24 (AZ a), 10.0.11.0/24 (AZ b)   Name=qualisys-ENV-app-{a,b}
  db subnets     10.0.20.0/24 (AZ a), 10.0.21.0/24 (AZ b)   Name=qualisys-ENV-db-{a,b}
  subnet group   qualisys-redis-subnets-ENV  (the two db subnets)
  security group qualisys-redis-ENV: one inbound rule, tcp 6379 from 10.0.10.0/24 and
                 10.0.11.0/24 (the app subnets); AWS's default allow-all egress rule is kept.
"""

from __future__ import annotations

import argparse
import json
import sys

import boto3
from botocore.exceptions import ClientError

REGION = "us-east-1"
REDIS_PORT = 6379
CLIENT_CIDRS = ["10.0.10.0/24", "10.0.11.0/24"]


def client(service: str, endpoint: str):  # noqa: ANN201
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="cairnlocal",
        aws_secret_access_key="cairnlocal",
    )


def seed(endpoint: str, env: str) -> dict:
    ec2 = client("ec2", endpoint)
    ec = client("elasticache", endpoint)
    fixture_tag = {"Key": "cairn:fixture", "Value": f"network-{env}"}

    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:cairn:fixture", "Values": [fixture_tag["Value"]]}])["Vpcs"]
    if vpcs:
        vpc_id = vpcs[0]["VpcId"]
    else:
        vpc_id = ec2.create_vpc(
            CidrBlock="10.0.0.0/16",
            TagSpecifications=[
                {
                    "ResourceType": "vpc",
                    "Tags": [{"Key": "Name", "Value": f"qualisys-{env}-vpc"}, fixture_tag],
                }
            ],
        )["Vpc"]["VpcId"]

    azs = [f"{REGION}a", f"{REGION}b"]

    def subnet(cidr: str, az: str, name: str) -> str:
        found = ec2.describe_subnets(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "cidr-block", "Values": [cidr]}]
        )["Subnets"]
        if found:
            return found[0]["SubnetId"]
        return ec2.create_subnet(
            VpcId=vpc_id,
            CidrBlock=cidr,
            AvailabilityZone=az,
            TagSpecifications=[
                {"ResourceType": "subnet", "Tags": [{"Key": "Name", "Value": name}, fixture_tag]}
            ],
        )["Subnet"]["SubnetId"]

    app_subnets = [
        subnet("10.0.10.0/24", azs[0], f"qualisys-{env}-app-a"),
        subnet("10.0.11.0/24", azs[1], f"qualisys-{env}-app-b"),
    ]
    db_subnets = [
        subnet("10.0.20.0/24", azs[0], f"qualisys-{env}-db-a"),
        subnet("10.0.21.0/24", azs[1], f"qualisys-{env}-db-b"),
    ]

    group_name = f"qualisys-redis-subnets-{env}"
    try:
        ec.describe_cache_subnet_groups(CacheSubnetGroupName=group_name)
    except ClientError as e:
        if "NotFound" not in e.response["Error"]["Code"]:
            raise
        ec.create_cache_subnet_group(
            CacheSubnetGroupName=group_name,
            CacheSubnetGroupDescription="Database subnets for the Redis caching layer (Story 0.2)",
            SubnetIds=db_subnets,
            Tags=[fixture_tag],
        )

    sg_name = f"qualisys-redis-{env}"
    sgs = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": [sg_name]}]
    )["SecurityGroups"]
    created = not sgs
    if sgs:
        sg = sgs[0]
    else:
        sg_id = ec2.create_security_group(
            GroupName=sg_name,
            Description="Redis access from the Kubernetes node subnets only",
            VpcId=vpc_id,
            TagSpecifications=[
                {"ResourceType": "security-group", "Tags": [{"Key": "Name", "Value": sg_name}, fixture_tag]}
            ],
        )["GroupId"]
        sg = ec2.describe_security_groups(GroupIds=[sg_id])["SecurityGroups"][0]
    sg_id = sg["GroupId"]

    wanted = {
        "IpProtocol": "tcp",
        "FromPort": REDIS_PORT,
        "ToPort": REDIS_PORT,
        "IpRanges": [{"CidrIp": c} for c in CLIENT_CIDRS],
    }
    # Only a group made just now gets its rules set: an existing group is
    # Story 0.2's, and changes made to it since (drift) must stay visible.
    if not created:
        return {
            "vpc_id": vpc_id,
            "subnet_ids": db_subnets,
            "app_subnet_ids": app_subnets,
            "availability_zones": azs,
            "subnet_group_name": group_name,
            "security_group_id": sg_id,
            "security_group_name": sg_name,
        }
    # Remove any inbound rule that is not exactly the wanted one.
    extra = []
    have = set()
    for perm in sg.get("IpPermissions", []):
        cidrs = {r["CidrIp"] for r in perm.get("IpRanges", [])}
        is_redis = (
            perm.get("IpProtocol") == "tcp"
            and perm.get("FromPort") == REDIS_PORT
            and perm.get("ToPort") == REDIS_PORT
        )
        if is_redis:
            have |= cidrs & set(CLIENT_CIDRS)
        if (
            not is_redis
            or cidrs - set(CLIENT_CIDRS)
            or perm.get("UserIdGroupPairs")
            or perm.get("Ipv6Ranges")
            or perm.get("PrefixListIds")
        ):
            extra.append(perm)
    if extra:
        ec2.revoke_security_group_ingress(GroupId=sg_id, IpPermissions=extra)
        have = set()
        sg = ec2.describe_security_groups(GroupIds=[sg_id])["SecurityGroups"][0]
        for perm in sg.get("IpPermissions", []):
            have |= {r["CidrIp"] for r in perm.get("IpRanges", [])}
    missing = [c for c in CLIENT_CIDRS if c not in have]
    if missing:
        ec2.authorize_security_group_ingress(
            GroupId=sg_id, IpPermissions=[dict(wanted, IpRanges=[{"CidrIp": c} for c in missing])]
        )

    return {
        "vpc_id": vpc_id,
        "subnet_ids": db_subnets,
        "app_subnet_ids": app_subnets,
        "availability_zones": azs,
        "subnet_group_name": group_name,
        "security_group_id": sg_id,
        "security_group_name": sg_name,
    }


def main() -> None:
    ap = argparse.ArgumentParser(prog="cairn_moto.seed")
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--env", required=True)
    args = ap.parse_args()
    try:
        out = seed(args.endpoint, args.env)
    except ClientError as e:
        print(f"seeding failed: {e}", file=sys.stderr)
        sys.exit(2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
