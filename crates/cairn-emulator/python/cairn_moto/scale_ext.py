"""The emulator's own work at account scale (thousands of objects).

Filter matching: moto's ``aws_api_matches`` turns every (filter value, attribute) pair into a
fresh regex: a ``DescribeSecurityGroupRules`` call filtering 200 group ids over
4,000 rules makes 800,000 of them (1.7 s under the GIL), which made batched
reads look slow. This keeps moto's meaning exactly (glob ``*`` and ``?``, the
rest read as a regular expression, anchored) and only caches the compiled
pattern, with a plain comparison when the value has no special character.

Security group id filters: moto tries every value against every group or
rule in the region (200 ids over 4,000 rules: 1.2 million calls); here a
filter's plain values become one set per call (`_any_matches`).

EC2 tags: moto finds one resource's tags by scanning every tag of the
region with a regex per resource id, so describing 200 security groups among
5,000 tagged resources cost 0.5 s. Here a resource's tags are looked up by
its id (AWS's meaning; moto's unanchored regex could also match a longer id).
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Any

_SPECIAL = re.compile(r"[\\.^$*+?{}\[\]|()]")


@functools.lru_cache(maxsize=65536)
def _compiled(pattern: str) -> Any:
    if not _SPECIAL.search(pattern):
        return None
    pattern, _ = re.subn(r"(?<!\\)\*", r".*", pattern)
    pattern, _ = re.subn(r"(?<!\\)\?", r".?", pattern)
    return re.compile(f"^{pattern}$")


def aws_api_matches(pattern: str, string: Any) -> bool:
    compiled = _compiled(pattern)
    if compiled is None:
        # no regex or glob character: the anchored match is string equality
        # (`$` would also match before a trailing newline)
        text = str(string)
        return text == pattern or text == pattern + "\n"
    return compiled.match(str(string)) is not None


_per_thread = threading.local()


def _any_matches(values: list[Any], text: str) -> bool:
    """``any(aws_api_matches(v, text) for v in values)``, with the plain values
    in a set built once per filter list (moto passes the same list for every
    object of one call; the server is threaded, so one cache per thread)."""
    entry = getattr(_per_thread, "entry", None)
    # the cache holds the list, so its id cannot be reused; a list grown
    # since (moto appends rule ids to a filter list) is read afresh
    if entry is None or entry[0] is not values or entry[3] != len(values):
        texts = [str(v) for v in values]
        plain = frozenset(t for t in texts if _compiled(t) is None)
        special = tuple(c for c in (_compiled(t) for t in texts) if c is not None)
        entry = (values, plain, special, len(values))
        _per_thread.entry = entry
    _, plain, special, _ = entry
    if text in plain or (text.endswith("\n") and text[:-1] in plain):
        return True
    return any(p.match(text) is not None for p in special)


def _ec2_tags(self: Any) -> list[dict[str, str]]:
    from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix

    if not self.id:
        return []
    tags = self.ec2_backend.tags.get(self.id) or {}
    kind = EC2_PREFIX_TO_RESOURCE.get(get_prefix(self.id), "")
    return [
        {"resource_id": self.id, "key": k, "value": v, "resource_type": kind}
        for k, v in list(tags.items())
    ]


def install() -> None:
    from moto.ec2.models.core import TaggedEC2Resource

    TaggedEC2Resource.get_tags = _ec2_tags
    from moto.ec2.models.security_groups import SecurityGroup, SecurityGroupRule

    SecurityGroup.filter_group_id = lambda self, values: _any_matches(values, str(self.id))
    SecurityGroupRule.filter_group_id = lambda self, values: _any_matches(
        values, str(self.group_id)
    )
    SecurityGroupRule.filter_id = lambda self, values: _any_matches(values, str(self.id))
    from moto.core import utils

    original = utils.aws_api_matches
    if getattr(original, "_cairn", False):
        return
    # Modules bound the function by name at import time (`from ... import
    # aws_api_matches`), so swap its code object: every binding sees the fast one.
    original.__code__ = _forward.__code__
    utils._cairn_aws_api_matches = aws_api_matches
    original._cairn = True


def _forward(pattern: str, string: Any) -> bool:  # runs with moto.core.utils' globals
    return _cairn_aws_api_matches(pattern, string)  # type: ignore[name-defined]  # noqa: F821
