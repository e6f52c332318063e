"""Test helper: every place in a JSON document, and a copy with one place replaced.

The hostile-metadata tests (core loading, the window's Open) put wrong values at each
place of a model file's metadata.
"""

import json


def leaf_paths(value, path=(), rows=None):
    """Every place in a JSON document: (keys...) down to each scalar and container.

    ``rows`` limits the items visited in each list (None: all of them).
    """
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaf_paths(item, (*path, key), rows)
    elif isinstance(value, list):
        for index, item in enumerate(value[:rows]):
            yield from leaf_paths(item, (*path, index), rows)


def replaced(document, path, new):
    """A deep copy of ``document`` with the value at ``path`` replaced by ``new``."""
    if not path:
        return new
    copy = json.loads(json.dumps(document))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return copy
