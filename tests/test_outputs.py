import json
import os
import stat

import pytest

from tlnlp_tf import outputs


def test_json_written_whole_with_normal_mode(tmp_path):
    path = tmp_path / "sub" / "m.json"
    outputs.write_json(str(path), {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1}
    assert stat.S_IMODE(os.stat(path).st_mode) & 0o044  # readable by others, not 0600


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    path = tmp_path / "model.keras"
    path.write_text("old model")

    class Broken:
        def save(self, filepath):
            with open(filepath, "w") as file:
                file.write("half a mod")
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        outputs.save_model(Broken(), str(path))
    assert path.read_text() == "old model"
    assert os.listdir(tmp_path) == ["model.keras"]
