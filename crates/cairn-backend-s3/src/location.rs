//! `s3://BUCKET/PREFIX?kms_key=KEY`.

use crate::error::BackendError;

/// Where a team's stacks live in S3, and the KMS key that encrypts them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// No leading or trailing `/`; may be empty.
    pub prefix: String,
    pub kms_key: String,
}

impl S3Location {
    /// Parses a backend URL. The query carries `kms_key` (required).
    pub fn parse(url: &str) -> Result<S3Location, BackendError> {
        let bad = |reason: &str| BackendError::Url {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| bad("it does not start with `s3://`"))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
        if !valid_bucket(bucket) {
            return Err(bad(
                "the bucket name must be 3-63 characters of lowercase letters, digits, `.` and `-`, starting and ending with a letter or digit",
            ));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|seg| seg == "." || seg == "..")
            || !prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'))
            || prefix.contains("//")
        {
            return Err(bad(
                "the prefix may hold only letters, digits, `-`, `_`, `.` and single `/` between segments",
            ));
        }
        let mut kms_key = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if name != "kms_key" {
                return Err(bad(&format!(
                    "unknown option `{name}` (the only option is `kms_key`)"
                )));
            }
            if value.is_empty() {
                return Err(bad("`kms_key` is empty"));
            }
            kms_key = Some(value.to_string());
        }
        let kms_key = kms_key.ok_or_else(|| {
            bad("it names no KMS key: the state object is always encrypted with a customer KMS key (`?kms_key=alias/cairn-state`)")
        })?;
        Ok(S3Location {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            kms_key,
        })
    }

    fn object_key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }

    pub fn state_key(&self, stack: &str) -> String {
        self.object_key(&format!("{stack}.state.json"))
    }

    pub fn lock_key(&self, stack: &str) -> String {
        self.object_key(&format!("{stack}.lock"))
    }

    pub fn object_url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// `s3://BUCKET/PREFIX` (without the key option).
    pub fn url(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

fn valid_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-'))
        && b.starts_with(|c: char| c.is_ascii_alphanumeric())
        && b.ends_with(|c: char| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bucket_prefix_and_key() {
        let l = S3Location::parse("s3://team-state/cairn/redis?kms_key=alias/cairn-state").unwrap();
        assert_eq!(l.bucket, "team-state");
        assert_eq!(l.prefix, "cairn/redis");
        assert_eq!(l.kms_key, "alias/cairn-state");
        assert_eq!(l.state_key("prod"), "cairn/redis/prod.state.json");
        assert_eq!(l.lock_key("prod"), "cairn/redis/prod.lock");
        assert_eq!(l.url(), "s3://team-state/cairn/redis");
        let bare = S3Location::parse("s3://team-state?kms_key=k").unwrap();
        assert_eq!(bare.state_key("dev"), "dev.state.json");
    }

    #[test]
    fn rejects_bad_urls_with_a_reason() {
        for (url, reason) in [
            ("team-state/x?kms_key=k", "s3://"),
            ("s3://Team/x?kms_key=k", "bucket name"),
            ("s3://ab?kms_key=k", "bucket name"),
            ("s3://team-state/../x?kms_key=k", "prefix"),
            ("s3://team-state/x", "KMS key"),
            ("s3://team-state/x?kms_key=", "empty"),
            (
                "s3://team-state/x?kms_key=k&region=eu",
                "unknown option `region`",
            ),
        ] {
            let err = S3Location::parse(url).unwrap_err().to_string();
            assert!(err.contains(reason), "{url}: {err}");
        }
    }
}
