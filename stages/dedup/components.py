"""Clusters: connected components of the duplicate graph, and the document each one keeps."""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def components(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The documents that appear in edges (sorted) and the component label of each.

    Only documents with an edge are nodes, so the graph is as small as the edge list.
    """
    nodes = np.unique(np.concatenate((a, b)))
    if len(nodes) == 0:
        return nodes, np.zeros(0, dtype=np.int64)
    graph = coo_matrix(
        (np.ones(len(a), dtype=np.int8), (np.searchsorted(nodes, a), np.searchsorted(nodes, b))),
        shape=(len(nodes), len(nodes)),
    )
    _, labels = connected_components(graph, directed=False)
    return nodes, labels.astype(np.int64)


def representatives(labels: np.ndarray, rank: np.ndarray, order: np.ndarray) -> np.ndarray:
    """For each node, the index of the node its component keeps.

    The kept node has the highest `rank`; ties go to the lowest `order` (input position), so the
    choice does not depend on how the work was split.
    """
    if len(labels) == 0:
        return np.zeros(0, dtype=np.int64)
    best = np.lexsort((order, -rank, labels))
    first = np.concatenate(([True], labels[best][1:] != labels[best][:-1]))
    keeper = np.empty(labels.max() + 1, dtype=np.int64)
    keeper[labels[best][first]] = best[first]
    return keeper[labels]
