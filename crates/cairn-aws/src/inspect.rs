//! Read-only inspection of a deployed Redis caching layer, for `cairn verify`.
//!
//! Every AWS call that verification needs lives here (this crate is the only
//! one that links `aws-sdk-*`), and each returns plain structs, so the
//! verifier never sees an SDK type. The one mutating call is
//! [`Inspector::test_failover`], used only by an explicit failover drill.
//!
//! Secrets: [`SecretValue`]'s `Debug` masks the secret string, and no error
//! built here contains a secret (GetSecretValue errors carry only the
//! service's code and message, which never include the value).

use aws_sdk_elasticache::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_types::SdkConfig;
use std::fmt;

/// A failed inspection call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum InspectError {
    /// The service answered with an error, or the call could not be made.
    #[error("{api} failed: {code}: {message}")]
    #[diagnostic(
        code(cairn::aws::inspect::api),
        help("check credentials, region and the caller's read permissions for this API")
    )]
    Api {
        api: String,
        code: String,
        message: String,
    },
    /// The resource does not exist.
    #[error("{what} `{id}` was not found ({api})")]
    #[diagnostic(
        code(cairn::aws::inspect::not_found),
        help("is the stack deployed in this account and region?")
    )]
    NotFound {
        api: String,
        what: String,
        id: String,
    },
    /// The answer lacked a field the verifier needs.
    #[error("{api} returned no {what}")]
    #[diagnostic(code(cairn::aws::inspect::missing))]
    Missing { api: String, what: String },
}

impl InspectError {
    /// The service's error code, when there is one.
    pub fn code(&self) -> Option<&str> {
        match self {
            InspectError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

fn api_err<E>(api: &str, err: SdkError<E, HttpResponse>) -> InspectError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (code, message) = match &err {
        SdkError::ServiceError(_) => (
            err.code().unwrap_or("Unknown").to_string(),
            err.message().unwrap_or("").to_string(),
        ),
        SdkError::TimeoutError(_) => ("Timeout".into(), DisplayErrorContext(&err).to_string()),
        SdkError::DispatchFailure(_) => (
            "DispatchFailure".into(),
            DisplayErrorContext(&err).to_string(),
        ),
        _ => ("ClientError".into(), DisplayErrorContext(&err).to_string()),
    };
    InspectError::Api {
        api: api.to_string(),
        code,
        message,
    }
}

fn not_found_code(code: Option<&str>) -> bool {
    code.is_some_and(|c| c.contains("NotFound") || c == "ResourceNotFoundException")
}

/// A host and port.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EndpointInfo {
    pub address: String,
    pub port: Option<i32>,
}

fn endpoint(e: Option<&aws_sdk_elasticache::types::Endpoint>) -> Option<EndpointInfo> {
    let e = e?;
    Some(EndpointInfo {
        address: e.address()?.to_string(),
        port: e.port(),
    })
}

/// One member of a node group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeGroupMemberInfo {
    pub cache_cluster_id: String,
    /// `primary` / `replica`; reported only with cluster mode disabled.
    pub current_role: Option<String>,
    pub availability_zone: Option<String>,
}

/// One node group (shard).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeGroupInfo {
    pub node_group_id: String,
    pub status: Option<String>,
    /// Slot range, e.g. `0-8191` (cluster mode).
    pub slots: Option<String>,
    pub members: Vec<NodeGroupMemberInfo>,
    pub primary_endpoint: Option<EndpointInfo>,
    pub reader_endpoint: Option<EndpointInfo>,
}

/// DescribeReplicationGroups, flattened.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplicationGroupInfo {
    pub replication_group_id: String,
    pub arn: Option<String>,
    pub status: Option<String>,
    pub engine: Option<String>,
    pub cache_node_type: Option<String>,
    pub cluster_enabled: Option<bool>,
    /// `enabled` / `disabled` / `compatible`.
    pub cluster_mode: Option<String>,
    /// `enabled` / `disabled` / `enabling` / `disabling`.
    pub automatic_failover: Option<String>,
    /// `enabled` / `disabled`.
    pub multi_az: Option<String>,
    pub transit_encryption_enabled: Option<bool>,
    pub transit_encryption_mode: Option<String>,
    pub at_rest_encryption_enabled: Option<bool>,
    pub kms_key_id: Option<String>,
    pub auth_token_enabled: Option<bool>,
    pub configuration_endpoint: Option<EndpointInfo>,
    pub node_groups: Vec<NodeGroupInfo>,
    pub member_clusters: Vec<String>,
}

/// One member cache cluster (DescribeCacheClusters with node info).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CacheClusterInfo {
    pub cache_cluster_id: String,
    pub replication_group_id: Option<String>,
    pub status: Option<String>,
    pub engine: Option<String>,
    pub engine_version: Option<String>,
    pub cache_node_type: Option<String>,
    pub parameter_group: Option<String>,
    pub security_group_ids: Vec<String>,
    pub availability_zone: Option<String>,
    pub transit_encryption_enabled: Option<bool>,
    pub at_rest_encryption_enabled: Option<bool>,
    /// Node endpoints as ElastiCache reports them.
    pub node_endpoints: Vec<EndpointInfo>,
}

/// One inbound rule of a security group (one `IpPermission`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IngressRule {
    /// `tcp`, `udp`, `icmp`, `-1` (all), ...
    pub protocol: String,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    pub ipv4_cidrs: Vec<String>,
    pub ipv6_cidrs: Vec<String>,
    pub source_security_groups: Vec<String>,
    pub prefix_lists: Vec<String>,
}

/// DescribeSecurityGroups for one group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityGroupInfo {
    pub group_id: String,
    pub group_name: Option<String>,
    pub vpc_id: Option<String>,
    pub ingress: Vec<IngressRule>,
}

/// One cache parameter's effective value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CacheParameterInfo {
    pub name: String,
    pub value: Option<String>,
    /// `user`, `system`, `engine-default`.
    pub source: Option<String>,
}

/// GetSecretValue. `Debug` masks the secret string.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretValue {
    pub arn: Option<String>,
    pub name: Option<String>,
    pub version_id: Option<String>,
    /// The secret text. Never print it.
    pub secret_string: Option<String>,
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretValue")
            .field("arn", &self.arn)
            .field("name", &self.name)
            .field("version_id", &self.version_id)
            .field(
                "secret_string",
                &self
                    .secret_string
                    .as_ref()
                    .map(|_| cairn_core::value::SECRET_MASK),
            )
            .finish()
    }
}

/// Read-only clients for verification, built from one SDK configuration.
#[derive(Clone, Debug)]
pub struct Inspector {
    ec: aws_sdk_elasticache::Client,
    ec2: aws_sdk_ec2::Client,
    sm: aws_sdk_secretsmanager::Client,
    kms: aws_sdk_kms::Client,
}

/// Bound on pagination, so a misbehaving endpoint cannot loop forever.
const MAX_PAGES: usize = 100;

impl Inspector {
    /// Clients from `sdk` (no network until the first call). A configuration
    /// without a behavior version (the SDK would panic on it) gets the latest.
    pub fn new(sdk: &SdkConfig) -> Self {
        let fixed;
        let sdk = if sdk.behavior_version().is_none() {
            fixed = sdk
                .to_builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .build();
            &fixed
        } else {
            sdk
        };
        Inspector {
            ec: aws_sdk_elasticache::Client::new(sdk),
            ec2: aws_sdk_ec2::Client::new(sdk),
            sm: aws_sdk_secretsmanager::Client::new(sdk),
            kms: aws_sdk_kms::Client::new(sdk),
        }
    }

    /// DescribeReplicationGroups for `id`.
    pub async fn replication_group(&self, id: &str) -> Result<ReplicationGroupInfo, InspectError> {
        const API: &str = "elasticache:DescribeReplicationGroups";
        let out = match self
            .ec
            .describe_replication_groups()
            .replication_group_id(id)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) if not_found_code(e.code()) => {
                return Err(InspectError::NotFound {
                    api: API.into(),
                    what: "replication group".into(),
                    id: id.into(),
                })
            }
            Err(e) => return Err(api_err(API, e)),
        };
        let rg = out
            .replication_groups()
            .iter()
            .find(|g| {
                g.replication_group_id()
                    .is_some_and(|g| g.eq_ignore_ascii_case(id))
            })
            .ok_or_else(|| InspectError::NotFound {
                api: API.into(),
                what: "replication group".into(),
                id: id.into(),
            })?;
        let s = |v: Option<&str>| v.map(str::to_string);
        Ok(ReplicationGroupInfo {
            replication_group_id: rg.replication_group_id().unwrap_or(id).to_string(),
            arn: s(rg.arn()),
            status: s(rg.status()),
            engine: s(rg.engine()),
            cache_node_type: s(rg.cache_node_type()),
            cluster_enabled: rg.cluster_enabled(),
            cluster_mode: rg.cluster_mode().map(|m| m.as_str().to_string()),
            automatic_failover: rg.automatic_failover().map(|m| m.as_str().to_string()),
            multi_az: rg.multi_az().map(|m| m.as_str().to_string()),
            transit_encryption_enabled: rg.transit_encryption_enabled(),
            transit_encryption_mode: rg.transit_encryption_mode().map(|m| m.as_str().to_string()),
            at_rest_encryption_enabled: rg.at_rest_encryption_enabled(),
            kms_key_id: s(rg.kms_key_id()),
            auth_token_enabled: rg.auth_token_enabled(),
            configuration_endpoint: endpoint(rg.configuration_endpoint()),
            node_groups: rg
                .node_groups()
                .iter()
                .map(|ng| NodeGroupInfo {
                    node_group_id: ng.node_group_id().unwrap_or_default().to_string(),
                    status: s(ng.status()),
                    slots: s(ng.slots()),
                    members: ng
                        .node_group_members()
                        .iter()
                        .map(|m| NodeGroupMemberInfo {
                            cache_cluster_id: m.cache_cluster_id().unwrap_or_default().to_string(),
                            current_role: s(m.current_role()),
                            availability_zone: s(m.preferred_availability_zone()),
                        })
                        .collect(),
                    primary_endpoint: endpoint(ng.primary_endpoint()),
                    reader_endpoint: endpoint(ng.reader_endpoint()),
                })
                .collect(),
            member_clusters: rg.member_clusters().to_vec(),
        })
    }

    /// DescribeCacheClusters (with node info) for the given member cluster ids;
    /// ids that do not exist are left out.
    pub async fn cache_clusters(
        &self,
        ids: &[String],
    ) -> Result<Vec<CacheClusterInfo>, InspectError> {
        const API: &str = "elasticache:DescribeCacheClusters";
        let mut out = Vec::new();
        for id in ids {
            let res = self
                .ec
                .describe_cache_clusters()
                .cache_cluster_id(id)
                .show_cache_node_info(true)
                .send()
                .await;
            let page = match res {
                Ok(p) => p,
                Err(e) if not_found_code(e.code()) => continue,
                Err(e) => return Err(api_err(API, e)),
            };
            let s = |v: Option<&str>| v.map(str::to_string);
            for c in page.cache_clusters() {
                out.push(CacheClusterInfo {
                    cache_cluster_id: c.cache_cluster_id().unwrap_or_default().to_string(),
                    replication_group_id: s(c.replication_group_id()),
                    status: s(c.cache_cluster_status()),
                    engine: s(c.engine()),
                    engine_version: s(c.engine_version()),
                    cache_node_type: s(c.cache_node_type()),
                    parameter_group: c
                        .cache_parameter_group()
                        .and_then(|p| p.cache_parameter_group_name())
                        .map(str::to_string),
                    security_group_ids: c
                        .security_groups()
                        .iter()
                        .filter_map(|g| g.security_group_id().map(str::to_string))
                        .collect(),
                    availability_zone: s(c.preferred_availability_zone()),
                    transit_encryption_enabled: c.transit_encryption_enabled(),
                    at_rest_encryption_enabled: c.at_rest_encryption_enabled(),
                    node_endpoints: c
                        .cache_nodes()
                        .iter()
                        .filter_map(|n| endpoint(n.endpoint()))
                        .collect(),
                });
            }
        }
        Ok(out)
    }

    /// DescribeSecurityGroups for one group id.
    pub async fn security_group(&self, id: &str) -> Result<SecurityGroupInfo, InspectError> {
        const API: &str = "ec2:DescribeSecurityGroups";
        let out = match self
            .ec2
            .describe_security_groups()
            .group_ids(id)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) if e.code().is_some_and(|c| c.starts_with("InvalidGroup")) => {
                return Err(InspectError::NotFound {
                    api: API.into(),
                    what: "security group".into(),
                    id: id.into(),
                })
            }
            Err(e) => return Err(api_err(API, e)),
        };
        let sg = out
            .security_groups()
            .iter()
            .find(|g| g.group_id() == Some(id))
            .ok_or_else(|| InspectError::NotFound {
                api: API.into(),
                what: "security group".into(),
                id: id.into(),
            })?;
        Ok(SecurityGroupInfo {
            group_id: id.to_string(),
            group_name: sg.group_name().map(str::to_string),
            vpc_id: sg.vpc_id().map(str::to_string),
            ingress: sg
                .ip_permissions()
                .iter()
                .map(|p| IngressRule {
                    protocol: p.ip_protocol().unwrap_or("-1").to_string(),
                    from_port: p.from_port(),
                    to_port: p.to_port(),
                    ipv4_cidrs: p
                        .ip_ranges()
                        .iter()
                        .filter_map(|r| r.cidr_ip().map(str::to_string))
                        .collect(),
                    ipv6_cidrs: p
                        .ipv6_ranges()
                        .iter()
                        .filter_map(|r| r.cidr_ipv6().map(str::to_string))
                        .collect(),
                    source_security_groups: p
                        .user_id_group_pairs()
                        .iter()
                        .filter_map(|g| g.group_id().map(str::to_string))
                        .collect(),
                    prefix_lists: p
                        .prefix_list_ids()
                        .iter()
                        .filter_map(|g| g.prefix_list_id().map(str::to_string))
                        .collect(),
                })
                .collect(),
        })
    }

    /// DescribeCacheParameters: every parameter of a cache parameter group.
    pub async fn cache_parameters(
        &self,
        group: &str,
    ) -> Result<Vec<CacheParameterInfo>, InspectError> {
        const API: &str = "elasticache:DescribeCacheParameters";
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let res = self
                .ec
                .describe_cache_parameters()
                .cache_parameter_group_name(group)
                .set_marker(marker.clone())
                .send()
                .await;
            let page = match res {
                Ok(p) => p,
                Err(e) if not_found_code(e.code()) => {
                    return Err(InspectError::NotFound {
                        api: API.into(),
                        what: "cache parameter group".into(),
                        id: group.into(),
                    })
                }
                Err(e) => return Err(api_err(API, e)),
            };
            out.extend(page.parameters().iter().map(|p| CacheParameterInfo {
                name: p.parameter_name().unwrap_or_default().to_string(),
                value: p.parameter_value().map(str::to_string),
                source: p.source().map(str::to_string),
            }));
            match page.marker() {
                Some(m) if !m.is_empty() && Some(m) != marker.as_deref() => {
                    marker = Some(m.to_string())
                }
                _ => break,
            }
        }
        Ok(out)
    }

    /// GetSecretValue (current version).
    pub async fn secret_value(&self, secret_id: &str) -> Result<SecretValue, InspectError> {
        const API: &str = "secretsmanager:GetSecretValue";
        let out = match self.sm.get_secret_value().secret_id(secret_id).send().await {
            Ok(o) => o,
            Err(e) if not_found_code(e.code()) => {
                return Err(InspectError::NotFound {
                    api: API.into(),
                    what: "secret".into(),
                    id: secret_id.into(),
                })
            }
            Err(e) => return Err(api_err(API, e)),
        };
        Ok(SecretValue {
            arn: out.arn().map(str::to_string),
            name: out.name().map(str::to_string),
            version_id: out.version_id().map(str::to_string),
            secret_string: out.secret_string().map(str::to_string),
        })
    }

    /// GetKeyRotationStatus: whether automatic rotation is on for a key (id or ARN).
    pub async fn key_rotation_enabled(&self, key_id: &str) -> Result<bool, InspectError> {
        const API: &str = "kms:GetKeyRotationStatus";
        match self
            .kms
            .get_key_rotation_status()
            .key_id(key_id)
            .send()
            .await
        {
            Ok(o) => Ok(o.key_rotation_enabled()),
            Err(e) if not_found_code(e.code()) => Err(InspectError::NotFound {
                api: API.into(),
                what: "KMS key".into(),
                id: key_id.into(),
            }),
            Err(e) => Err(api_err(API, e)),
        }
    }

    /// TestFailover of one node group (the failover drill on AWS). Mutating:
    /// ElastiCache promotes a replica of that shard.
    pub async fn test_failover(
        &self,
        replication_group_id: &str,
        node_group_id: &str,
    ) -> Result<(), InspectError> {
        const API: &str = "elasticache:TestFailover";
        self.ec
            .test_failover()
            .replication_group_id(replication_group_id)
            .node_group_id(node_group_id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| api_err(API, e))
    }
}

/// The endpoint override of an SDK configuration (`--local`), if any.
pub fn endpoint_override(sdk: &SdkConfig) -> Option<String> {
    sdk.endpoint_url().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_value_debug_masks_the_secret() {
        let v = SecretValue {
            arn: Some("arn:x".into()),
            name: Some("n".into()),
            version_id: None,
            secret_string: Some("{\"auth_token\":\"hunter2hunter2hunter2\"}".into()),
        };
        let d = format!("{v:?}");
        assert!(!d.contains("hunter2"), "{d}");
        assert!(d.contains("arn:x") && d.contains(cairn_core::value::SECRET_MASK));
    }

    #[test]
    fn a_bare_configuration_does_not_panic() {
        let _ = Inspector::new(&SdkConfig::builder().build());
    }

    #[test]
    fn not_found_codes() {
        assert!(not_found_code(Some("ReplicationGroupNotFoundFault")));
        assert!(not_found_code(Some("ResourceNotFoundException")));
        assert!(!not_found_code(Some("AccessDenied")));
        assert!(!not_found_code(None));
    }
}
