"""URL blocklist: drop documents whose host is a listed domain or one of its subdomains."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_HOST = r"^[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^@/?#]*@)?(?P<host>[^:/?#]*)"


def load_domains(paths: list[str]) -> pa.Array:
    domains = set()
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip().lower().rstrip(".")
            if line:
                domains.add(line)
    return pa.array(sorted(domains), pa.string())


def hosts_of(urls: pa.Array) -> pa.Array:
    """Lower-cased host of each URL (null where the URL has no scheme://host)."""
    host = pc.struct_field(pc.extract_regex(urls, _HOST), "host")
    return pc.utf8_rtrim(pc.utf8_lower(host), characters=".")


def blocked(hosts: pa.Array, domains: pa.Array) -> np.ndarray:
    """Whether each host is a listed domain or a subdomain of one."""
    hosts = pc.utf8_lower(pc.fill_null(hosts, ""))
    out = np.zeros(len(hosts), dtype=bool)
    if len(domains) == 0 or len(hosts) == 0:
        return out
    depth = int(pc.max(pc.count_substring(hosts, ".")).as_py() or 0)
    for _ in range(depth + 1):
        out |= np.asarray(pc.is_in(hosts, value_set=domains))
        hosts = pc.replace_substring_regex(hosts, r"^[^.]*\.?", "", max_replacements=1)
    return out
