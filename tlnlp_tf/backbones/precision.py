"""Mixed-precision policies, checked against the hardware that will run them.

`mixed_float16` pays off on GPUs only: without one, the model is built in
float32 and a warning says so. `mixed_bfloat16` runs everywhere, but only
TPUs, GPUs of compute capability 8.0 or more and CPUs with bf16
instructions (AVX512_BF16, AMX) make it fast: elsewhere a warning says it
will be emulated.

Example:

```python
policy = resolve_precision("mixed_float16")  # "float32" on a CPU, with a warning
```
"""

import warnings

import tensorflow as tf

from tlnlp_tf.errors import PolicyError

POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")
_CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def resolve_precision(dtype):
    """The dtype policy to build with for `dtype`, after a hardware check.

    Args:
        dtype: `None` (Keras's global policy), `"float32"`,
            `"mixed_bfloat16"` or `"mixed_float16"`.

    Returns:
        The policy name (or `None`), `"float32"` for `mixed_float16` when no
        GPU is visible.

    Example:

    ```python
    resolve_precision("mixed_bfloat16")  # "mixed_bfloat16"
    resolve_precision(None)  # None: Keras's global policy
    ```
    """
    if dtype is None or not isinstance(dtype, str):
        return dtype
    if dtype not in POLICIES:
        raise PolicyError(
            f"Unknown precision '{dtype}'; expected one of {', '.join(POLICIES)}."
        )
    gpus = _gpus()
    if dtype == "mixed_float16" and not gpus and not _has_tpu():
        warnings.warn(
            "mixed_float16 needs a GPU and none is visible: building the model in "
            "float32 instead (on CPUs with bf16 instructions and on TPUs, use "
            "mixed_bfloat16).",
            stacklevel=2,
        )
        return "float32"
    if dtype == "mixed_bfloat16" and not (
        _has_tpu() or _gpus_have_bf16(gpus) or (not gpus and cpu_has_bf16())
    ):
        warnings.warn(
            "mixed_bfloat16: this device has no bfloat16 instructions (TPU, GPU with "
            "compute capability >= 8.0, or a CPU with AVX512_BF16/AMX); it will run "
            "emulated, probably slower than float32.",
            stacklevel=2,
        )
    return dtype


def cpu_has_bf16():
    """Whether /proc/cpuinfo lists a bfloat16 instruction set (Linux only)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("flags"):
                    flags = line.split(":", 1)[1].split()
                    return any(flag in flags for flag in _CPU_BF16_FLAGS)
    except OSError:
        pass
    return False


def _gpus():
    return tf.config.list_physical_devices("GPU")


def _gpus_have_bf16(gpus):
    if not gpus:
        return False
    for gpu in gpus:
        capability = tf.config.experimental.get_device_details(gpu).get(
            "compute_capability"
        )
        if not capability or tuple(capability) < (8, 0):
            return False
    return True


def _has_tpu():
    return bool(tf.config.list_logical_devices("TPU"))
