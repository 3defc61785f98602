//! Batched reads by listing (`read_many`), for APIs whose read takes one
//! name or none (then every object of the type in the region, a page at a
//! time): ElastiCache's `Describe*` (100 a page), KMS `ListAliases`. A batch
//! walks the list, stopping as soon as every requested name has been seen,
//! and picks its own.
//!
//! Listing is a saving only from [`LIST_ALL_FROM`] resources of a type:
//! one resource is one call read singly, never more, while a list costs one
//! call per page. With M ≥ 2 the list costs at most M calls while the region
//! holds up to M pages of the type, and it stops early once all M are seen;
//! the calls each resource needs besides (tags, parameters, member
//! clusters) stay per resource, made [`DEFAULT_READ_PARALLELISM`] at a time
//! as a refresh would.

use crate::util::read_missing_recent;
use cairn_core::drift::DEFAULT_READ_PARALLELISM;
use cairn_core::provider::{Observed, ProviderError, ReadRequest, ResourceProvider};
use futures::{StreamExt, TryStreamExt};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

/// From how many resources of a type a batch lists them all (see above).
pub(crate) const LIST_ALL_FROM: usize = 2;

/// One page of a list call: its objects and the next page's marker.
pub(crate) type Page<T> = (Vec<T>, Option<String>);

/// `read_many` by listing: below [`LIST_ALL_FROM`] requests the single
/// reads; otherwise `page(marker)` walks the list until every requested name
/// (compared through `fold`: ElastiCache's names are case-insensitive) is
/// seen, and each object found is observed with its request by `observe`
/// (the function the single `read` uses too). A name the list does not hold
/// is gone, unless created moments ago (then it gets the single read).
pub(crate) async fn read_listed<P, T, F, Fut, O, OFut>(
    provider: &P,
    reqs: &[ReadRequest],
    name_of: impl Fn(&T) -> Option<&str>,
    fold: impl Fn(&str) -> String,
    mut page: F,
    observe: O,
) -> Result<BTreeMap<String, Observed>, ProviderError>
where
    P: ResourceProvider + ?Sized,
    T: Clone,
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<T>, ProviderError>>,
    O: Fn(ReadRequest, T) -> OFut,
    OFut: Future<Output = Result<Observed, ProviderError>>,
{
    let mut found = BTreeMap::new();
    if reqs.len() < LIST_ALL_FROM {
        for r in reqs {
            if let Some(o) = provider.read(&r.ctx, &r.id, &r.inputs).await? {
                found.insert(r.id.clone(), o);
            }
        }
        return Ok(found);
    }
    let wanted: BTreeSet<String> = reqs.iter().map(|r| fold(&r.id)).collect();
    let mut live: BTreeMap<String, T> = BTreeMap::new();
    let mut marker: Option<String> = None;
    loop {
        let (groups, next) = page(marker.clone()).await?;
        for g in groups {
            if let Some(name) = name_of(&g).map(&fold) {
                if wanted.contains(&name) {
                    live.insert(name, g);
                }
            }
        }
        if live.len() == wanted.len() {
            break;
        }
        // A marker that does not move on ends the walk too.
        match next.filter(|m| !m.is_empty()) {
            Some(m) if Some(&m) != marker.as_ref() => marker = Some(m),
            _ => break,
        }
    }
    let observe = &observe;
    // Collected first: a closure over references held across an await
    // would make the future not `Send`.
    let mut reads = Vec::new();
    for r in reqs {
        if let Some(g) = live.get(&fold(&r.id)) {
            let (r, g) = (r.clone(), g.clone());
            reads.push(async move { Ok::<_, ProviderError>((r.id.clone(), observe(r, g).await?)) });
        }
    }
    let observed: Vec<(String, Observed)> = futures::stream::iter(reads)
        .buffer_unordered(DEFAULT_READ_PARALLELISM)
        .try_collect()
        .await?;
    found.extend(observed);
    read_missing_recent(provider, reqs, &mut found).await?;
    Ok(found)
}
