//! Terraform import's mapping table against the real schemas: every
//! Terraform type it names is a type this provider has, and the attributes
//! terraform-provider-aws documents for it land on properties (a renamed or
//! misspelt property would silently drop the attribute from the program).

#[test]
fn every_terraform_mapping_lands_on_a_cairn_type_and_its_properties() {
    let schemas = cairn_aws::resources::all_schemas();
    let schema = |token: &str| {
        schemas
            .iter()
            .find(|s| s.token == token)
            .unwrap_or_else(|| panic!("the import table maps to {token}, which cairn-aws lacks"))
    };
    for (tf_type, token, renames) in cairn_import::mapping::mappings() {
        let schema = schema(token);
        for (from, to) in renames {
            assert!(
                schema.prop(to).is_some(),
                "{tf_type}.{from} is renamed to `{to}`, which {token} does not declare"
            );
        }
    }
    // Attribute names from terraform-provider-aws's documentation.
    let documented: &[(&str, &[&str])] = &[
        (
            "aws_vpc",
            &[
                "cidr_block",
                "enable_dns_hostnames",
                "enable_dns_support",
                "tags",
            ],
        ),
        (
            "aws_subnet",
            &[
                "vpc_id",
                "cidr_block",
                "availability_zone",
                "map_public_ip_on_launch",
            ],
        ),
        ("aws_nat_gateway", &["allocation_id", "subnet_id"]),
        ("aws_route_table", &["vpc_id", "route"]),
        (
            "aws_route_table_association",
            &["subnet_id", "route_table_id"],
        ),
        (
            "aws_security_group",
            &["name", "description", "vpc_id", "ingress"],
        ),
        ("aws_db_subnet_group", &["name", "subnet_ids"]),
        (
            "aws_iam_role",
            &[
                "name",
                "path",
                "assume_role_policy",
                "description",
                "max_session_duration",
                "permissions_boundary",
                "tags",
            ],
        ),
        ("aws_iam_role_policy_attachment", &["role", "policy_arn"]),
        (
            "aws_iam_openid_connect_provider",
            &["url", "client_id_list", "thumbprint_list", "tags"],
        ),
        (
            "aws_ecr_repository",
            &[
                "name",
                "image_tag_mutability",
                "image_scanning_configuration",
                "encryption_configuration",
                "force_delete",
                "tags",
            ],
        ),
        ("aws_ecr_lifecycle_policy", &["repository", "policy"]),
        ("aws_s3_bucket", &["bucket", "force_destroy", "tags"]),
        (
            "aws_s3_bucket_versioning",
            &["bucket", "versioning_configuration"],
        ),
        (
            "aws_s3_bucket_server_side_encryption_configuration",
            &["bucket", "rule"],
        ),
        (
            "aws_s3_bucket_public_access_block",
            &[
                "bucket",
                "block_public_acls",
                "block_public_policy",
                "ignore_public_acls",
                "restrict_public_buckets",
            ],
        ),
        ("aws_s3_bucket_policy", &["bucket", "policy"]),
        (
            "aws_db_parameter_group",
            &["name", "family", "description", "parameter"],
        ),
        (
            "aws_db_instance",
            &[
                "identifier",
                "engine",
                "engine_version",
                "instance_class",
                "allocated_storage",
                "storage_type",
                "storage_encrypted",
                "kms_key_id",
                "db_subnet_group_name",
                "vpc_security_group_ids",
                "multi_az",
                "username",
                "manage_master_user_password",
                "backup_retention_period",
                "deletion_protection",
                "skip_final_snapshot",
                "final_snapshot_identifier",
                "parameter_group_name",
                "publicly_accessible",
            ],
        ),
        (
            "aws_eks_cluster",
            &[
                "name",
                "role_arn",
                "version",
                "vpc_config",
                "encryption_config",
                "tags",
            ],
        ),
        (
            "aws_eks_node_group",
            &[
                "cluster_name",
                "node_group_name",
                "node_role_arn",
                "subnet_ids",
                "scaling_config",
                "instance_types",
                "capacity_type",
                "labels",
                "tags",
            ],
        ),
    ];
    let mut missing = Vec::new();
    for (tf_type, attributes) in documented {
        let token = cairn_import::mapping::token_for(tf_type)
            .unwrap_or_else(|| panic!("Terraform import has no mapping for {tf_type}"));
        let schema = schema(token);
        for a in *attributes {
            let prop = cairn_import::mapping::property_name(tf_type, a);
            if schema.prop(&prop).is_none() {
                missing.push(format!("{tf_type}.{a} -> {token}.{prop}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "attributes with no property: {missing:#?}"
    );
}
