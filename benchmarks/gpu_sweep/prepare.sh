#!/usr/bin/env bash
# Stage the GPU sweep in .gpu/ (git-ignored), ready to carry to a GPU machine
# that has JAX but no TensorFlow. Run from the repository root, in the project's venv.
set -euo pipefail
mkdir -p .gpu/whl
cp benchmarks/gpu_sweep/{sweep,prep_data,analyze,make_fp16}.py .gpu/
# The recipe's own files, as they are in the package (only an import line changes).
cp tlnlp_tf/heads.py tlnlp_tf/training/schedules.py tlnlp_tf/metrics/entities.py .gpu/
sed 's/^from tlnlp_tf.training.schedules import/from schedules import/' \
    tlnlp_tf/training/optimizers.py > .gpu/optimizers.py
python .gpu/make_fp16.py      # fp16 MiniLM copy (the fp32 one is over the 64 MiB carry limit)
python .gpu/prep_data.py      # SST-2 and CoNLL-2003 token ids from this library's preprocessors
python -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 -d .gpu/whl \
    keras==3.15.1 keras-hub==0.32.0 namex==0.1.0 optree==0.20.0
