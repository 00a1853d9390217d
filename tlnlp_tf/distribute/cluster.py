"""Where the workers are: `TF_CONFIG` and TPU discovery, checked before use.

A malformed `TF_CONFIG` would otherwise fail (or hang) deep inside
`MultiWorkerMirroredStrategy`; asking a GCE metadata server for a TPU away
from Google Cloud waits on the network.

```python
check_tf_config()      # raises PolicyError naming what is wrong, or returns
workers()              # 2 when TF_CONFIG names two workers, else 0 or 1
tpu_resolver()         # None off a TPU host
```
"""

import json
import os

import tensorflow as tf

from tlnlp_tf.errors import PolicyError


def workers():
    """The number of workers (and chief) `TF_CONFIG` names; 0 without it."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    except json.JSONDecodeError:
        raise PolicyError("TF_CONFIG is not valid JSON.") from None
    cluster = config.get("cluster", {})
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def check_tf_config():
    """Raise `PolicyError` on a `TF_CONFIG` that would fail or hang in TensorFlow."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        return  # one worker: MultiWorkerMirroredStrategy runs locally
    try:
        config = json.loads(text)
    except json.JSONDecodeError:
        raise PolicyError("TF_CONFIG is not valid JSON.") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    if (
        not isinstance(cluster, dict)
        or not cluster.get("worker")
        and not cluster.get("chief")
    ):
        raise PolicyError(
            'TF_CONFIG: expected {"cluster": {"worker": ["host:port", ...]}, '
            '"task": {"type": "worker", "index": i}}; "cluster" names no workers.'
        )
    for role, addresses in cluster.items():
        if not isinstance(addresses, list) or not all(
            isinstance(a, str) and a.rpartition(":")[2].isdigit() for a in addresses
        ):
            raise PolicyError(
                f'TF_CONFIG: cluster["{role}"] must be a list of "host:port" '
                f"strings, got {addresses!r}."
            )
    task = config.get("task")
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise PolicyError(
            f"TF_CONFIG: task must name a role of the cluster "
            f"({', '.join(cluster)}) and an index, got {task!r}."
        )
    index = task.get("index")
    if not isinstance(index, int) or not 0 <= index < len(cluster[task["type"]]):
        raise PolicyError(
            f"TF_CONFIG: task index {index!r} is not in [0, "
            f'{len(cluster[task["type"]])}) for role "{task["type"]}".'
        )


def tpu_resolver():
    """A resolved `TPUClusterResolver`, or `None` where no TPU is."""
    # Only where a TPU can be: asking a GCE metadata server elsewhere waits
    # on the network.
    hints = ("TPU_NAME", "COLAB_TPU_ADDR", "TPU_ACCELERATOR_TYPE")
    if not any(os.environ.get(name) for name in hints) and not os.path.exists(
        "/dev/accel0"
    ):
        return None
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        resolver.master()
        return resolver
    except (ValueError, RuntimeError, KeyError, tf.errors.OpError):
        return None
