//! Batched EC2 reads (`read_many`): the ids go into a `Describe*` filter of
//! at most [`EC2_FILTER_VALUES_MAX`] values per call (a filter, unlike an id
//! list, does not fail the call when one id is gone), every page is
//! followed, and what comes back is mapped to the requests by id.

use crate::util::{read_missing_recent, EC2_FILTER_VALUES_MAX};
use aws_sdk_ec2::types::Filter;
use cairn_core::provider::{Observed, ProviderError, ReadRequest, ResourceProvider};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

/// One page of a describe call: its objects and the next page's token.
pub(crate) type Page<T> = (Vec<T>, Option<String>);

/// Every object among `ids` that the describe call returns, by id: one
/// call per chunk of at most [`EC2_FILTER_VALUES_MAX`] distinct ids in
/// `filter`, each followed to its last page. `page(filter, next_token)`
/// makes one call.
pub(crate) async fn describe_by_ids<'a, T, F, Fut>(
    ids: impl IntoIterator<Item = &'a str>,
    filter: &str,
    id_of: impl Fn(&T) -> Option<&str>,
    mut page: F,
) -> Result<BTreeMap<String, T>, ProviderError>
where
    F: FnMut(Filter, Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<T>, ProviderError>>,
{
    let ids: Vec<String> = ids
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(str::to_string)
        .collect();
    let mut live = BTreeMap::new();
    for chunk in ids.chunks(EC2_FILTER_VALUES_MAX) {
        let mut next: Option<String> = None;
        loop {
            let values = Filter::builder()
                .name(filter)
                .set_values(Some(chunk.to_vec()))
                .build();
            let (items, token) = page(values, next.clone()).await?;
            for item in items {
                if let Some(id) = id_of(&item).map(str::to_string) {
                    live.insert(id, item);
                }
            }
            // A token that does not move on ends the walk too.
            match token.filter(|t| !t.is_empty()) {
                Some(t) if Some(&t) != next.as_ref() => next = Some(t),
                _ => break,
            }
        }
    }
    Ok(live)
}

/// `read_many` for an EC2 type: [`describe_by_ids`] over the requests' ids,
/// each object found observed with its request by `observe` (the function
/// the single `read` uses too), and an id the batch missed that was created
/// moments ago read singly (a filter may not see it yet).
pub(crate) async fn read_many<P, T, F, Fut>(
    provider: &P,
    reqs: &[ReadRequest],
    filter: &str,
    id_of: impl Fn(&T) -> Option<&str>,
    page: F,
    observe: impl Fn(&ReadRequest, &T) -> Observed,
) -> Result<BTreeMap<String, Observed>, ProviderError>
where
    P: ResourceProvider + ?Sized,
    F: FnMut(Filter, Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<T>, ProviderError>>,
{
    let live = describe_by_ids(reqs.iter().map(|r| r.id.as_str()), filter, id_of, page).await?;
    let mut found: BTreeMap<String, Observed> = reqs
        .iter()
        .filter_map(|r| Some((r.id.clone(), observe(r, live.get(&r.id)?))))
        .collect();
    read_missing_recent(provider, reqs, &mut found).await?;
    Ok(found)
}

/// One page of `DescribeRouteTables` for `filter` (routes, route tables and
/// their associations all read through it).
pub(crate) async fn route_tables_page(
    ec2: &aws_sdk_ec2::Client,
    resource: &str,
    filter: Filter,
    next: Option<String>,
) -> Result<Page<aws_sdk_ec2::types::RouteTable>, ProviderError> {
    let out = ec2
        .describe_route_tables()
        .filters(filter)
        .max_results(100)
        .set_next_token(next)
        .send()
        .await
        .map_err(|e| crate::util::api_error(resource, "ec2:DescribeRouteTables", e, &[]))?;
    Ok((
        out.route_tables().to_vec(),
        out.next_token().map(str::to_string),
    ))
}
